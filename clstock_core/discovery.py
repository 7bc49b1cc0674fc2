"""Find plugins through entry points and build a plugin manager.

Bundled plugins are found exactly like third-party ones, through the
``clstock.plugins`` entry-point group, so the kernel never imports them by
name and a user can disable any of them.
"""

from __future__ import annotations

import difflib
import importlib
import logging
import os
import traceback
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from types import ModuleType

import pluggy

from clstock_core import hookspecs
from clstock_core.errors import PluginError
from clstock_core.markers import ENTRY_POINT_GROUP, PROJECT_NAME
from clstock_core.registry import ROLE_HOOKS, Register, Registry

logger = logging.getLogger(__name__)

#: Comma-separated plugin names to skip, e.g. ``CLSTOCK_DISABLE_PLUGINS=ml,yfinance``.
DISABLE_ENV = "CLSTOCK_DISABLE_PLUGINS"
#: Set to 1 to load only the plugins bundled with ClStock itself.
NO_AUTOLOAD_ENV = "CLSTOCK_DISABLE_PLUGIN_AUTOLOAD"
#: Comma-separated ``name=module`` pairs (or bare modules) to load in addition.
EXTRA_PLUGINS_ENV = "CLSTOCK_PLUGINS"

BUNDLED_DISTRIBUTION = "clstock"


@dataclass(frozen=True)
class PluginInfo:
    """A plugin that loaded."""

    name: str
    distribution: str
    version: str
    module: str


@dataclass(frozen=True)
class LoadFailure:
    """A plugin whose import failed."""

    name: str
    distribution: str
    error: str
    traceback: str

    def describe(self) -> str:
        return (
            f"plugin {self.name!r} from distribution {self.distribution!r} failed to import: "
            f"{self.error}; reinstall it (pip install --force-reinstall {self.distribution}) "
            f"or disable it with {DISABLE_ENV}={self.name}"
        )


@dataclass
class Discovery:
    """The outcome of plugin discovery."""

    manager: pluggy.PluginManager
    registry: Registry
    loaded: list[PluginInfo]
    failures: list[LoadFailure]
    disabled: list[str]


def _split_names(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _distribution_of(entry_point: EntryPoint) -> tuple[str, str]:
    dist = entry_point.dist
    if dist is None:
        return "unknown", ""
    return dist.metadata["Name"] or "unknown", dist.version


def _load_module(name: str, distribution: str, load: object) -> tuple[object, LoadFailure | None]:
    """Import one plugin, turning any import-time exception into a LoadFailure."""
    try:
        return load(), None  # type: ignore[operator]
    # A third-party plugin can raise anything while importing; the failure is
    # reported with its traceback instead of stopping every other plugin.
    except Exception as error:  # noqa: BLE001
        failure = LoadFailure(
            name=name,
            distribution=distribution,
            error=f"{type(error).__name__}: {error}",
            traceback=traceback.format_exc(),
        )
        logger.warning("%s", failure.describe())
        return None, failure


def discover(
    *,
    environ: Mapping[str, str] | None = None,
    extra_plugins: Iterable[tuple[str, object]] = (),
) -> Discovery:
    """Load every enabled plugin and collect the implementations they register.

    ``extra_plugins`` adds ``(name, plugin_object)`` pairs, mainly for tests
    and embedding. Raises :class:`PluginError` when a plugin implements a
    hook that does not exist (a misspelling) or registers a duplicate name.
    """
    environ = os.environ if environ is None else environ
    disabled = set(_split_names(environ.get(DISABLE_ENV, "")))
    bundled_only = environ.get(NO_AUTOLOAD_ENV, "").strip().lower() in {"1", "true", "yes"}

    manager = pluggy.PluginManager(PROJECT_NAME)
    manager.add_hookspecs(hookspecs)

    loaded: list[PluginInfo] = []
    failures: list[LoadFailure] = []
    skipped: list[str] = []

    for entry_point in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name):
        distribution, version = _distribution_of(entry_point)
        if entry_point.name in disabled or (bundled_only and distribution != BUNDLED_DISTRIBUTION):
            skipped.append(entry_point.name)
            continue
        if manager.has_plugin(entry_point.name):
            continue

        plugin, failure = _load_module(entry_point.name, distribution, entry_point.load)
        if failure is not None:
            failures.append(failure)
            continue
        _register(manager, plugin, entry_point.name, distribution)
        loaded.append(PluginInfo(entry_point.name, distribution, version, entry_point.value))

    for name, plugin in [*_env_plugins(environ, failures), *extra_plugins]:
        if name in disabled:
            skipped.append(name)
            continue
        _register(manager, plugin, name, "(explicit)")
        module = plugin.__name__ if isinstance(plugin, ModuleType) else type(plugin).__name__
        loaded.append(PluginInfo(name, "(explicit)", "", module))

    _check_hooks(manager, loaded)
    registry = _collect_implementations(manager)
    return Discovery(manager, registry, loaded, failures, sorted(skipped))


def _env_plugins(
    environ: Mapping[str, str], failures: list[LoadFailure]
) -> list[tuple[str, object]]:
    """Import the modules listed in ``CLSTOCK_PLUGINS``."""
    plugins = []
    for item in _split_names(environ.get(EXTRA_PLUGINS_ENV, "")):
        name, _, module_name = item.rpartition("=")
        name = name or module_name
        module, failure = _load_module(
            name, "(CLSTOCK_PLUGINS)", lambda m=module_name: importlib.import_module(m)
        )
        if failure is not None:
            failures.append(failure)
        else:
            plugins.append((name, module))
    return plugins


def _register(manager: pluggy.PluginManager, plugin: object, name: str, distribution: str) -> None:
    """Register one plugin, turning pluggy's validation error into a PluginError that names it."""
    try:
        manager.register(plugin, name=name)
    except pluggy.PluginValidationError as error:
        # Raised for a hook implementation whose arguments do not match the
        # hookspec, e.g. ``def clstock_register_predictors(registry)``.
        raise PluginError(
            f"plugin {name!r} from distribution {distribution!r} is invalid: {error}; "
            f"fix it against clstock_core.hookspecs or disable it with {DISABLE_ENV}={name}"
        ) from error


def _check_hooks(manager: pluggy.PluginManager, loaded: list[PluginInfo]) -> None:
    """Reject hook implementations that match no hookspec, which are usually misspelled."""
    try:
        manager.check_pending()
    except pluggy.PluginValidationError as error:
        name = manager.get_name(error.plugin) or repr(error.plugin)
        distribution = next((p.distribution for p in loaded if p.name == name), "unknown")
        unknown = [
            hook_name
            for hook_name, caller in vars(manager.hook).items()
            if not caller.has_spec()
            and any(i.plugin is error.plugin and not i.optionalhook for i in caller.get_hookimpls())
        ]
        raise PluginError(
            f"plugin {name!r} from distribution {distribution!r} implements unknown hook(s) "
            f"{', '.join(_with_suggestion(hook, manager) for hook in unknown)}; fix the "
            f"spelling against clstock_core.hookspecs or disable it with {DISABLE_ENV}={name}"
        ) from error


def _with_suggestion(hook_name: str, manager: pluggy.PluginManager) -> str:
    known = [name for name, caller in vars(manager.hook).items() if caller.has_spec()]
    close = difflib.get_close_matches(hook_name, known, n=1)
    return f"{hook_name!r} (did you mean {close[0]!r}?)" if close else repr(hook_name)


def _collect_implementations(manager: pluggy.PluginManager) -> Registry:
    """Call every registration hook plugin by plugin, so duplicates name both."""
    registry = Registry()
    for role, hook_name in ROLE_HOOKS.items():
        hook = getattr(manager.hook, hook_name)
        # Call in registration order so the first plugin keeps the name in
        # the error message and the second is named as the duplicate.
        for hookimpl in hook.get_hookimpls():
            hookimpl.function(register=Register(registry, role, hookimpl.plugin_name))
    return registry
