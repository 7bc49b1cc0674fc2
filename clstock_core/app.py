"""The application object: plugins, configuration and components of one run."""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Iterable, Mapping
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clstock_core.config import AppConfig, load_raw_config, validate_config
from clstock_core.discovery import Discovery, discover
from clstock_core.errors import ConfigError
from clstock_core.lifecycle import Cancellation, ShutdownManager, TempFiles
from clstock_core.registry import ROLE_LABELS

if TYPE_CHECKING:
    from clstock_core.engine import Engine

logger = logging.getLogger(__name__)


class Application:
    """Everything one ClStock process uses, built from plugins and configuration.

    Each application owns its plugin manager, so tests and embedders can
    build several side by side. Use it as a context manager: closing it runs
    the shutdown handlers of every component it built, exactly once.
    """

    def __init__(
        self,
        config_path: str | Path | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        extra_plugins: Iterable[tuple[str, object]] = (),
        discovery: Discovery | None = None,
    ) -> None:
        self.environ = dict(os.environ if environ is None else environ)
        self.discovery = discovery or discover(environ=self.environ, extra_plugins=extra_plugins)
        self.plugin_manager = self.discovery.manager
        self.registry = self.discovery.registry

        raw, path = load_raw_config(config_path, self.environ)
        self.config: AppConfig = validate_config(
            raw, self.registry, path=path, failures=self.discovery.failures
        )
        self.shutdown = ShutdownManager()
        #: Set by SIGINT/SIGTERM in batch commands; long work checks it between steps.
        self.cancel = Cancellation()
        self.tempfiles = TempFiles()
        # Registered first so they run last: components built later are
        # closed before the plugins' hooks, and temp files go at the very end.
        self.shutdown.register("temp-files", self.tempfiles.cleanup)
        self._register_plugin_shutdown()
        self._components: dict[tuple[str, str], Any] = {}

    def _register_plugin_shutdown(self) -> None:
        for hookimpl in self.plugin_manager.hook.clstock_shutdown.get_hookimpls():
            self.shutdown.register(
                f"plugin:{hookimpl.plugin_name}", functools.partial(hookimpl.function, app=self)
            )

    def __enter__(self) -> Application:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def component(self, role: str, name: str | None = None) -> Any:
        """Build (once) and return the selected implementation of ``role``.

        Returns None for an optional role configured as ``"none"``.
        """
        name = name or self.config.selected(role)[0]
        if name == "none":
            return None
        key = (role, name)
        if key not in self._components:
            self._components[key] = self._build(role, name)
        return self._components[key]

    def _build(self, role: str, name: str) -> Any:
        implementation = self.registry.get(role, name)
        if implementation is None:
            installed = ", ".join(self.registry.names(role)) or "none installed"
            failed = [f for f in self.discovery.failures if f.name == name]
            detail = failed[0].describe() if failed else f"installed: {installed}"
            raise ConfigError(f"{ROLE_LABELS[role]} {name!r} is not available; {detail}")

        settings = self.config.settings.get((role, name))
        if settings is None:
            settings = implementation.settings_model()
            self.config.settings[(role, name)] = settings

        instance = implementation.factory(settings, self)
        close = getattr(instance, "close", None)
        if callable(close):
            self.shutdown.register(f"{role}:{name}", close)
        logger.debug("built %s %r from plugin %r", ROLE_LABELS[role], name, implementation.plugin)
        return instance

    @property
    def predictors(self) -> list[Any]:
        return [self.component("predictors", name) for name in self.config.selected("predictors")]

    @cached_property
    def engine(self) -> Engine:
        from clstock_core.engine import Engine

        return Engine(
            source=self.component("data_source"),
            source_name=self.config.selected("data_source")[0],
            cache=self.component("cache"),
            predictors=self.predictors,
            settings=self.config.engine,
            cancel=self.cancel,
        )

    def close(self) -> None:
        """Run every shutdown handler once, each with its own timeout.

        Order: components, newest first; then every plugin's
        ``clstock_shutdown``, in reverse order of plugin registration; then
        removal of the application's temp files. A failing or hanging
        handler is logged with its name and the others still run. Calls
        after the first return at once.
        """
        self.shutdown.run()
