"""Named implementations of each role, as plugins register them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict

from clstock_core.errors import PluginError

#: Config section name of each role, mapped to its registration hook.
ROLE_HOOKS = {
    "data_source": "clstock_register_data_sources",
    "cache": "clstock_register_cache_backends",
    "predictors": "clstock_register_predictors",
    "auth": "clstock_register_auth_providers",
    "rate_limiter": "clstock_register_rate_limiters",
    "frontend": "clstock_register_frontends",
}

ROLE_LABELS = {
    "data_source": "data source",
    "cache": "cache backend",
    "predictors": "predictor",
    "auth": "auth provider",
    "rate_limiter": "rate limiter",
    "frontend": "front-end",
}


class NoSettings(BaseModel):
    """Settings model of an implementation that takes no options."""

    model_config = ConfigDict(extra="forbid")


Factory = Callable[[Any, Any], Any]


@dataclass(frozen=True)
class Implementation:
    """One named implementation of a role."""

    role: str
    name: str
    factory: Factory
    settings_model: type[BaseModel]
    plugin: str
    description: str = ""


class Register:
    """The callback a ``clstock_register_*`` hook receives.

    Calling it records one implementation; the registry knows which plugin is
    calling, so a duplicate name can name both plugins.
    """

    def __init__(self, registry: Registry, role: str, plugin: str) -> None:
        self._registry = registry
        self._role = role
        self._plugin = plugin

    def __call__(
        self,
        name: str,
        factory: Factory,
        *,
        settings: type[BaseModel] = NoSettings,
        description: str = "",
    ) -> None:
        implementation = Implementation(
            role=self._role,
            name=name,
            factory=factory,
            settings_model=settings,
            plugin=self._plugin,
            description=description,
        )
        self._registry.add(implementation)


class Registry:
    """All implementations, by role and name."""

    def __init__(self) -> None:
        self._by_role: dict[str, dict[str, Implementation]] = {role: {} for role in ROLE_HOOKS}

    def add(self, implementation: Implementation) -> None:
        names = self._by_role[implementation.role]
        existing = names.get(implementation.name)
        if existing is not None:
            label = ROLE_LABELS[implementation.role]
            raise PluginError(
                f"{label} {implementation.name!r} is registered by both plugin "
                f"{existing.plugin!r} and plugin {implementation.plugin!r}; "
                f"uninstall or disable one of them (CLSTOCK_DISABLE_PLUGINS)"
            )
        names[implementation.name] = implementation

    def names(self, role: str) -> list[str]:
        return sorted(self._by_role[role])

    def get(self, role: str, name: str) -> Implementation | None:
        return self._by_role[role].get(name)

    def all(self) -> list[Implementation]:
        return [impl for names in self._by_role.values() for impl in names.values()]
