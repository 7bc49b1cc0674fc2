"""The application object: plugins, configuration and components of one run."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clstock_core.config import AppConfig, load_raw_config, validate_config
from clstock_core.discovery import Discovery, discover
from clstock_core.errors import ConfigError
from clstock_core.lifecycle import ShutdownManager
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
        self._components: dict[tuple[str, str], Any] = {}
        self._closed = False

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

        settings = self.config.settings.get(key := (role, name))
        if settings is None:
            settings = implementation.settings_model()
            self.config.settings[key] = settings

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
        )

    def close(self) -> None:
        """Run component shutdown handlers, then every plugin's ``clstock_shutdown``."""
        if self._closed:
            return
        self._closed = True
        self.shutdown.run()
        for hookimpl in reversed(self.plugin_manager.hook.clstock_shutdown.get_hookimpls()):
            try:
                hookimpl.function(app=self)
            # One plugin's failing cleanup must not keep the others from theirs.
            except Exception as error:  # noqa: BLE001
                logger.error(
                    "clstock_shutdown of plugin %r failed: %s: %s",
                    hookimpl.plugin_name,
                    type(error).__name__,
                    error,
                )
