"""Plugin discovery: entry points, disabling, failures, duplicates, typos."""

from __future__ import annotations

import pytest

from clstock_core.app import Application
from clstock_core.discovery import discover
from clstock_core.errors import ConfigError, PluginError
from clstock_core.markers import hookimpl
from clstock_core.registry import NoSettings

BUNDLED = {"api-key", "csv", "http", "limiter", "ml", "parquet", "pickle", "technical", "yfinance"}


class FakePredictorPlugin:
    def __init__(self, name: str) -> None:
        self.name = name

    @hookimpl
    def clstock_register_predictors(self, register):
        register(self.name, lambda settings, app: object(), settings=NoSettings)


def test_bundled_plugins_found_through_entry_points():
    discovery = discover(environ={})
    names = {info.name for info in discovery.loaded}
    assert BUNDLED <= names
    assert {info.distribution for info in discovery.loaded if info.name in BUNDLED} == {"clstock"}


def test_one_manager_per_discovery():
    first = discover(environ={})
    second = discover(environ={})
    assert first.manager is not second.manager


def test_disable_env_var_skips_plugins():
    discovery = discover(environ={"CLSTOCK_DISABLE_PLUGINS": "yfinance, ml"})
    names = {info.name for info in discovery.loaded}
    assert "yfinance" not in names
    assert "ml" not in names
    assert discovery.disabled == ["ml", "yfinance"]
    assert "yfinance" not in discovery.registry.names("data_source")


def test_selecting_disabled_plugin_is_config_error(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[data_source]\nuse = "yfinance"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown data source 'yfinance'"):
        Application(path, environ={"CLSTOCK_DISABLE_PLUGINS": "yfinance"})


def test_duplicate_name_names_both_plugins():
    with pytest.raises(PluginError) as info:
        discover(
            environ={},
            extra_plugins=[
                ("first-plugin", FakePredictorPlugin("dup")),
                ("second-plugin", FakePredictorPlugin("dup")),
            ],
        )
    message = str(info.value)
    assert "'first-plugin'" in message
    assert "'second-plugin'" in message
    assert "'dup'" in message


def test_duplicate_of_bundled_name_is_rejected():
    with pytest.raises(PluginError, match="'technical'.*'technical'.*'impostor'"):
        discover(environ={}, extra_plugins=[("impostor", FakePredictorPlugin("technical"))])


def test_misspelled_hook_fails_loudly():
    class Typo:
        @hookimpl
        def clstock_register_predictor(self, register):  # missing trailing "s"
            pass

    with pytest.raises(PluginError, match="unknown hook"):
        discover(environ={}, extra_plugins=[("typo", Typo())])


def test_env_plugin_import_failure_is_reported_not_fatal():
    discovery = discover(environ={"CLSTOCK_PLUGINS": "broken=clstock_no_such_module"})
    failure = {f.name: f for f in discovery.failures}["broken"]
    assert "ModuleNotFoundError" in failure.error
    assert "clstock_no_such_module" in failure.error
    assert "csv" in discovery.registry.names("data_source")


def test_selecting_failed_plugin_fails_with_its_error(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[predictors]\nuse = ["broken"]\n', encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        Application(path, environ={"CLSTOCK_PLUGINS": "broken=clstock_no_such_module"})
    message = str(info.value)
    assert "plugin 'broken'" in message
    assert "failed to import" in message
    assert "ModuleNotFoundError" in message


def test_plugin_import_defers_implementation_modules():
    import importlib
    import sys

    for package, implementation in (
        ("clstock_csv", "clstock_csv.source"),
        ("clstock_technical", "clstock_technical.predictor"),
    ):
        for name in (package, implementation):
            sys.modules.pop(name, None)
        importlib.import_module(package)
        assert implementation not in sys.modules, f"importing {package} loaded {implementation}"
