"""A third-party plugin, installed as its own distribution, works like a bundled one.

The first tests build a fresh virtual environment, install ClStock and
``examples/clstock-momentum`` into it with pip, and run the environment's own
``clstock`` console script. The others load plugins in-process: distributions
whose import fails or whose hooks are wrong, and plugin objects given to
``discover(extra_plugins=...)``.
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from clstock_core.app import Application
from clstock_core.cli.main import main
from clstock_core.discovery import discover
from clstock_core.errors import PluginError
from clstock_core.markers import ENTRY_POINT_GROUP, hookimpl
from clstock_core.registry import NoSettings

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "clstock-momentum"

# What building the clstock distribution reads. The build runs on a copy, so
# setuptools' build/ and *.egg-info directories never land in the checkout.
PROJECT_FILES = ("pyproject.toml", "README.md", "LICENSE")
PROJECT_DIRECTORIES = ("clstock_core", "plugins")
BUILD_LEFTOVERS = shutil.ignore_patterns("__pycache__", "*.pyc", "build", "*.egg-info")

SUBPROCESS_TIMEOUT = 120


@dataclass(frozen=True)
class Venv:
    """A virtual environment with ClStock and the example plugin installed."""

    python: Path
    clstock: Path
    prefix: Path


def _copy_project(target: Path) -> Path:
    target.mkdir()
    for name in PROJECT_FILES:
        if (REPO / name).is_file():
            shutil.copy2(REPO / name, target / name)
    for name in PROJECT_DIRECTORIES:
        shutil.copytree(REPO / name, target / name, ignore=BUILD_LEFTOVERS)
    return target


def _plugin_distribution_entries(site_packages: Path) -> set[str]:
    """Top-level names in ``site_packages`` of the distributions that provide ClStock plugins."""
    entries = set()
    for dist in importlib.metadata.distributions(path=[str(site_packages)]):
        if not any(ep.group == ENTRY_POINT_GROUP for ep in dist.entry_points):
            continue
        for file in dist.files or []:
            if file.parts and file.parts[0] != "..":
                entries.add(file.parts[0])
    return entries


def _dependency_view(target: Path) -> Path:
    """Link every distribution of the running environment except ClStock and its plugins.

    The new environment reaches the heavy dependencies (pandas, pydantic...)
    through this directory instead of installing them again. Leaving out
    every distribution that declares a ``clstock.plugins`` entry point
    (including the editable install of this checkout) means that what the
    new environment discovers is only what pip installs into it.
    """
    site_packages = Path(sysconfig.get_paths()["purelib"])
    excluded = _plugin_distribution_entries(site_packages)
    assert any(name.startswith("clstock-") for name in excluded), (
        f"the running environment has no clstock distribution in {site_packages}"
    )

    target.mkdir()
    for entry in site_packages.iterdir():
        if entry.name in excluded or entry.name == "__pycache__":
            continue
        (target / entry.name).symlink_to(entry)
    return target


def _run(args: list[object], *, cwd: Path) -> subprocess.CompletedProcess[str]:
    # ``cwd`` must not be the checkout: ``python -c`` puts the working
    # directory first on sys.path, which would import clstock_core from it.
    return subprocess.run(
        [str(arg) for arg in args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=_child_environ(),
        cwd=cwd,
        timeout=SUBPROCESS_TIMEOUT,
        check=False,
    )


def _child_environ() -> dict[str, str]:
    """The test's environment without ClStock, Python or pip settings that could leak in."""
    prefixes = ("CLSTOCK_", "PYTHON", "PIP_", "VIRTUAL_ENV")
    environ = {name: value for name, value in os.environ.items() if not name.startswith(prefixes)}
    environ["PIP_CONFIG_FILE"] = os.devnull
    environ["PYTHONIOENCODING"] = "utf-8"
    return environ


def _venv_paths(python: Path) -> tuple[Path, Path]:
    """The site-packages and scripts directories of the environment of ``python``."""
    code = "import sysconfig; p = sysconfig.get_paths(); print(p['purelib']); print(p['scripts'])"
    result = _run([python, "-c", code], cwd=python.parent)
    assert result.returncode == 0, result.stderr
    site_packages, scripts = result.stdout.splitlines()
    return Path(site_packages), Path(scripts)


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Venv:
    """A fresh venv with ClStock and clstock-momentum pip-installed (not editable)."""
    root = tmp_path_factory.mktemp("external-plugin")
    prefix = root / "venv"
    created = _run([sys.executable, "-m", "venv", "--without-pip", prefix], cwd=root)
    assert created.returncode == 0, created.stderr

    python = prefix / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    site_packages, scripts = _venv_paths(python)
    view = _dependency_view(root / "dependencies")
    (site_packages / "_clstock_test_dependencies.pth").write_text(f"{view}\n", encoding="utf-8")

    # No index and no build isolation: everything comes from this machine,
    # and the build backend (setuptools) is found through the dependency view.
    installed = _run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            python,
            "install",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--no-cache-dir",
            "--disable-pip-version-check",
            "--quiet",
            _copy_project(root / "clstock-src"),
            shutil.copytree(EXAMPLE, root / "clstock-momentum-src", ignore=BUILD_LEFTOVERS),
        ],
        cwd=root,
    )
    assert installed.returncode == 0, f"pip install failed:\n{installed.stdout}\n{installed.stderr}"

    clstock = scripts / ("clstock.exe" if os.name == "nt" else "clstock")
    assert clstock.is_file(), f"pip did not install the clstock console script into {scripts}"
    return Venv(python=python, clstock=clstock, prefix=prefix)


@pytest.mark.slow
def test_venv_imports_only_its_own_installs(venv: Venv):
    code = (
        "import importlib.metadata as m, clstock_core, clstock_momentum; "
        "print(clstock_core.__file__); print(clstock_momentum.__file__); "
        "print(m.distribution('clstock').locate_file('')); "
        "print(m.distribution('clstock-momentum').locate_file(''))"
    )
    result = _run([venv.python, "-c", code], cwd=venv.prefix)
    assert result.returncode == 0, result.stderr

    for line in result.stdout.splitlines():
        assert Path(line).resolve().is_relative_to(venv.prefix.resolve()), line


@pytest.mark.slow
def test_plugins_command_lists_external_distribution(venv: Venv):
    result = _run([venv.clstock, "plugins", "--format", "json"], cwd=venv.prefix)
    assert result.returncode == 0, result.stderr
    listing = json.loads(result.stdout)

    loaded = {plugin["name"]: plugin for plugin in listing["loaded"]}
    assert loaded["momentum"]["distribution"] == "clstock-momentum"
    assert loaded["momentum"]["version"] == "0.1.0"
    assert loaded["momentum"]["module"] == "clstock_momentum"
    assert loaded["momentum"]["provides"] == ["predictor 'momentum'"]
    assert loaded["technical"]["distribution"] == "clstock"
    assert listing["failed"] == []

    table = _run([venv.clstock, "plugins"], cwd=venv.prefix)
    assert table.returncode == 0, table.stderr
    row = next(line for line in table.stdout.splitlines() if line.startswith("momentum "))
    assert row.split()[:3] == ["momentum", "clstock-momentum", "0.1.0"]


def _expected_momentum_order(config: Path) -> list[str]:
    """Symbols by their 252-to-21-day return, computed one at a time with pandas."""
    with Application(config, environ={"CLSTOCK_DISABLE_PLUGIN_AUTOLOAD": "1"}) as app:
        panel = app.engine.load().panel
    returns = {}
    for symbol in panel.symbols:
        adjusted = panel.history(symbol)["adj_close"]
        returns[symbol] = adjusted.iloc[-22] / adjusted.iloc[-253] - 1
    return sorted(returns, key=lambda symbol: -returns[symbol])


@pytest.mark.slow
def test_config_selects_external_predictor(venv: Venv, offline_config: Path, tmp_path: Path):
    config = tmp_path / "momentum.toml"
    config.write_text(
        offline_config.read_text(encoding="utf-8") + '\n[predictors]\nuse = ["momentum"]\n',
        encoding="utf-8",
    )

    result = _run(
        [venv.clstock, "--config", config, "recommend", "--format", "json", "--top", "6"],
        cwd=venv.prefix,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    recommendations = report["recommendations"]

    assert len(recommendations) == 6
    assert {rec["predictor"] for rec in recommendations} == {"momentum"}
    assert [rec["rank"] for rec in recommendations] == [1, 2, 3, 4, 5, 6]
    assert [rec["symbol"] for rec in recommendations] == _expected_momentum_order(offline_config)
    # Six stocks ranked by percentile: evenly spaced from 100 down to 0.
    assert [rec["score"] for rec in recommendations] == [100.0, 80.0, 60.0, 40.0, 20.0, 0.0]
    assert recommendations[0]["rationale"][0].endswith("from 252 to 21 trading days ago")
    assert report["skipped"] == []


# -- in-process: distributions that fail ---------------------------------------


def _install_fake_distribution(
    root: Path, distribution: str, entry_name: str, module: str, source: str
) -> None:
    """Write a module and a ``.dist-info`` declaring it as a ``clstock.plugins`` entry point."""
    (root / f"{module}.py").write_text(textwrap.dedent(source), encoding="utf-8")
    info = root / f"{distribution.replace('-', '_')}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {distribution}\nVersion: 1.0\n", encoding="utf-8"
    )
    (info / "entry_points.txt").write_text(
        f"[{ENTRY_POINT_GROUP}]\n{entry_name} = {module}\n", encoding="utf-8"
    )


@pytest.fixture
def restore_logging():
    """Isolate the root logger from other tests' in-process ``main()`` calls.

    ``main()`` points a root handler at the sys.stderr of the moment, which
    is an earlier test's capture buffer. Discovery logs its warnings before
    ``main()`` replaces that handler, so they would hit a closed buffer.
    """
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    root.handlers.clear()
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def broken_distribution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """An installed distribution ``clstock-broken`` whose plugin raises on import."""
    root = tmp_path / "site"
    root.mkdir()
    _install_fake_distribution(
        root,
        "clstock-broken",
        "broken",
        "clstock_broken_plugin",
        "import clstock_missing_dependency  # not installed\n",
    )
    monkeypatch.syspath_prepend(str(root))
    # Third-party distributions load only with autoload on.
    monkeypatch.delenv("CLSTOCK_DISABLE_PLUGIN_AUTOLOAD")
    return "clstock-broken"


def test_import_failure_reported_not_fatal(broken_distribution: str):
    discovery = discover()

    failures = {failure.name: failure for failure in discovery.failures}
    assert failures["broken"].distribution == broken_distribution
    assert failures["broken"].error.startswith("ModuleNotFoundError")
    assert "clstock_missing_dependency" in failures["broken"].error
    assert "clstock_missing_dependency" in failures["broken"].traceback
    assert "technical" in discovery.registry.names("predictors")
    assert "csv" in discovery.registry.names("data_source")


def test_plugins_command_shows_import_failure(
    broken_distribution: str, restore_logging: None, capsys: pytest.CaptureFixture[str]
):
    code = main(["plugins"])
    out, err = capsys.readouterr()

    assert code == 0
    assert "technical" in out
    assert "FAILED plugin 'broken' from distribution 'clstock-broken' failed to import" in err
    assert "ModuleNotFoundError" in err
    assert "CLSTOCK_DISABLE_PLUGINS=broken" in err


def test_selecting_broken_plugin_exits_2(
    broken_distribution: str,
    restore_logging: None,
    offline_config: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
):
    config = tmp_path / "broken.toml"
    config.write_text(
        offline_config.read_text(encoding="utf-8") + '\n[predictors]\nuse = ["broken"]\n',
        encoding="utf-8",
    )

    code = main(["--config", str(config), "recommend"])
    _, err = capsys.readouterr()

    assert code == 2
    assert "selects predictor 'broken'" in err
    assert "plugin 'broken' from distribution 'clstock-broken' failed to import" in err
    assert "clstock_missing_dependency" in err
    assert "Traceback" not in err


def test_misspelled_hook_in_distribution_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    root = tmp_path / "site"
    root.mkdir()
    _install_fake_distribution(
        root,
        "clstock-typo",
        "typo",
        "clstock_typo_plugin",
        """
        from clstock_core import hookimpl

        @hookimpl
        def clstock_register_predictor(register):
            pass
        """,
    )
    monkeypatch.syspath_prepend(str(root))

    with pytest.raises(PluginError) as info:
        discover(environ={})
    message = str(info.value)
    assert "plugin 'typo' from distribution 'clstock-typo'" in message
    assert "'clstock_register_predictor' (did you mean 'clstock_register_predictors'?)" in message
    assert "CLSTOCK_DISABLE_PLUGINS=typo" in message


# -- in-process: plugin objects ---------------------------------------------------

BUNDLED_ONLY = {"CLSTOCK_DISABLE_PLUGIN_AUTOLOAD": "1"}


class PredictorPlugin:
    """A plugin object that registers one predictor name."""

    def __init__(self, predictor: str) -> None:
        self.predictor = predictor

    @hookimpl
    def clstock_register_predictors(self, register):
        register(self.predictor, lambda settings, app: object(), settings=NoSettings)


@pytest.fixture
def momentum_module(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.syspath_prepend(str(EXAMPLE / "src"))
    import clstock_momentum

    return clstock_momentum


def test_duplicate_name_names_both_plugins(momentum_module):
    fork = ("momentum-fork", PredictorPlugin("momentum"))
    with pytest.raises(PluginError) as info:
        discover(environ=BUNDLED_ONLY, extra_plugins=[("momentum", momentum_module), fork])
    message = str(info.value)
    assert "predictor 'momentum' is registered by both" in message
    assert "plugin 'momentum'" in message
    assert "plugin 'momentum-fork'" in message
    assert "CLSTOCK_DISABLE_PLUGINS" in message


def test_external_plugin_alone_registers(momentum_module):
    discovery = discover(environ=BUNDLED_ONLY, extra_plugins=[("momentum", momentum_module)])
    implementation = discovery.registry.get("predictors", "momentum")
    assert implementation is not None
    assert implementation.plugin == "momentum"
    assert implementation.settings_model.__name__ == "MomentumSettings"


def test_misspelled_hook_fails_loudly():
    class Typo:
        @hookimpl
        def clstock_register_predictor(self, register):  # the hook name ends in "s"
            register("typo", lambda settings, app: object())

    with pytest.raises(PluginError) as info:
        discover(environ=BUNDLED_ONLY, extra_plugins=[("typo-plugin", Typo())])
    message = str(info.value)
    assert "plugin 'typo-plugin'" in message
    assert "unknown hook(s) 'clstock_register_predictor'" in message
    assert "did you mean 'clstock_register_predictors'?" in message
    assert "CLSTOCK_DISABLE_PLUGINS=typo-plugin" in message


def test_wrong_hook_argument_fails_loudly():
    class WrongArgument:
        @hookimpl
        def clstock_register_predictors(self, registry):  # the hookspec argument is "register"
            pass

    with pytest.raises(PluginError) as info:
        discover(environ=BUNDLED_ONLY, extra_plugins=[("wrong-arg", WrongArgument())])
    message = str(info.value)
    assert "plugin 'wrong-arg'" in message
    assert "registry" in message
    assert "CLSTOCK_DISABLE_PLUGINS=wrong-arg" in message
