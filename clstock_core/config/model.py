"""Validate a raw configuration against the installed implementations."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from clstock_core.discovery import LoadFailure
from clstock_core.errors import ConfigError
from clstock_core.registry import ROLE_HOOKS, ROLE_LABELS, Registry


class EngineSettings(BaseModel):
    """Options of the ranking engine, in the ``[engine]`` table."""

    model_config = ConfigDict(extra="forbid")

    top: int = Field(default=10, ge=1, le=500, description="How many recommendations to print")
    holding_period_days: int = Field(
        default=20, ge=1, le=250, description="Planned holding period in trading days"
    )
    history_days: int = Field(
        default=1100,
        ge=60,
        description="Calendar days of history to load for each stock",
    )
    batch_size: int = Field(
        default=50, ge=1, le=1000, description="Symbols per request to the data source"
    )
    fetch_attempts: int = Field(
        default=3,
        ge=1,
        le=10,
        description="Tries per batch when the data source fails transiently "
        "(network error, 5xx, rate limit); 1 disables retries",
    )
    retry_initial_delay: float = Field(
        default=1.0,
        ge=0,
        le=60,
        description="Seconds before the first retry. The delay doubles with each retry, "
        "with jitter",
    )
    retry_max_delay: float = Field(
        default=30.0,
        ge=0,
        le=600,
        description="Longest wait before a retry, in seconds; a source asking for a longer "
        "Retry-After is not retried and cached history is served as stale",
    )
    profile: Literal["production", "development"] = Field(
        default="production",
        description="'development' enables well-known test API keys; never use it in production",
    )


#: Implementation chosen for each role that the configuration does not set.
DEFAULT_SELECTION: dict[str, str | list[str]] = {
    "data_source": "yfinance",
    "cache": "pickle",
    "predictors": ["technical"],
    "auth": "api-key",
    "rate_limiter": "limiter",
    "frontend": "http",
}

#: Roles for which "none" switches the component off.
OPTIONAL_ROLES = {"cache", "rate_limiter"}

TOP_LEVEL_KEYS = sorted([*ROLE_HOOKS, "engine"])


@dataclass
class AppConfig:
    """A validated configuration."""

    path: Path | None
    engine: EngineSettings
    selection: dict[str, str | list[str]]
    explicit: set[str]
    settings: dict[tuple[str, str], BaseModel] = field(default_factory=dict)

    def selected(self, role: str) -> list[str]:
        value = self.selection[role]
        return list(value) if isinstance(value, list) else [value]

    def settings_for(self, role: str, name: str) -> BaseModel:
        return self.settings[(role, name)]

    def redacted(self) -> dict[str, Any]:
        """Return the effective configuration with secrets masked."""
        result: dict[str, Any] = {"engine": self.engine.model_dump(mode="json")}
        for role in ROLE_HOOKS:
            table: dict[str, Any] = {"use": self.selection[role]}
            for (settings_role, name), model in sorted(self.settings.items()):
                if settings_role == role:
                    table[name] = _redact(model.model_dump(mode="json"))
            result[role] = table
        return result


_SECRET_WORDS = ("secret", "password", "token", "api_key", "apikey", "private")


def _redact(value: Any, key: str = "") -> Any:
    """Mask values under secret-sounding keys; SecretStr is already masked."""
    if isinstance(value, dict):
        return {k: _redact(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(item, key) for item in value]
    if any(word in key.lower() for word in _SECRET_WORDS) and value not in (None, ""):
        return "**********"
    return value


def _suggest(name: str, valid: list[str]) -> str:
    close = difflib.get_close_matches(name, valid, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    listing = ", ".join(valid) if valid else "none installed"
    return f"{hint}; valid: {listing}"


def _find_name(key: str, names: list[str]) -> str | None:
    for name in names:
        if key == name or key.replace("_", "-") == name.replace("_", "-"):
            return name
    return None


def validate_config(
    raw: dict[str, Any],
    registry: Registry,
    *,
    path: Path | None = None,
    failures: list[LoadFailure] = (),  # type: ignore[assignment]
) -> AppConfig:
    """Check every key and setting; raise :class:`ConfigError` naming the first problem."""
    where = f" in {path}" if path else ""
    for key in raw:
        if key not in TOP_LEVEL_KEYS:
            raise ConfigError(
                f"unknown config section [{key}]{where}{_suggest(key, TOP_LEVEL_KEYS)}"
            )

    engine = cast(
        EngineSettings, _validate_model(EngineSettings, raw.get("engine", {}), "[engine]", where)
    )

    selection: dict[str, str | list[str]] = {}
    explicit: set[str] = set()
    settings: dict[tuple[str, str], BaseModel] = {}
    for role in ROLE_HOOKS:
        table = raw.get(role, {})
        if not isinstance(table, dict):
            raise ConfigError(f"[{role}]{where} must be a table, got {table!r}")
        selection[role], chosen_explicitly = _validate_selection(
            role, table, registry, where, failures
        )
        if chosen_explicitly:
            explicit.add(role)
        chosen = selection[role]
        wanted = set(chosen) if isinstance(chosen, list) else {chosen}
        settings.update(_validate_role_settings(role, table, registry, where, wanted))

    return AppConfig(path, engine, selection, explicit, settings)


def _validate_selection(
    role: str,
    table: dict[str, Any],
    registry: Registry,
    where: str,
    failures: list[LoadFailure],
) -> tuple[str | list[str], bool]:
    label = ROLE_LABELS[role]
    names = registry.names(role)
    if "use" not in table:
        return DEFAULT_SELECTION[role], False

    use = table["use"]
    if role == "predictors":
        if isinstance(use, str):
            use = [use]
        if not isinstance(use, list) or not use or not all(isinstance(n, str) for n in use):
            raise ConfigError(
                f"[predictors] use{where} must be a non-empty list of predictor names, "
                f'e.g. use = ["technical"]; valid: {", ".join(names)}'
            )
        chosen = [_require_name(role, label, name, names, where, failures) for name in use]
        if len(set(chosen)) != len(chosen):
            raise ConfigError(f"[predictors] use{where} lists a predictor twice: {use}")
        return chosen, True

    if not isinstance(use, str):
        raise ConfigError(f"[{role}] use{where} must be a string naming one {label}, got {use!r}")
    if role in OPTIONAL_ROLES and use == "none":
        return "none", True
    return _require_name(role, label, use, names, where, failures), True


def _require_name(
    role: str, label: str, name: str, names: list[str], where: str, failures: list[LoadFailure]
) -> str:
    found = _find_name(name, names)
    if found is not None:
        return found

    for failure in failures:
        if failure.name == name:
            raise ConfigError(
                f"the configuration selects {label} {name!r}, but {failure.describe()}"
            )
    valid = names + (["none"] if role in OPTIONAL_ROLES else [])
    raise ConfigError(f"unknown {label} {name!r} in [{role}] use{where}{_suggest(name, valid)}")


def _validate_role_settings(
    role: str, table: dict[str, Any], registry: Registry, where: str, selected: set[str]
) -> dict[tuple[str, str], BaseModel]:
    """Validate the settings of the selected implementations and of every table given."""
    names = registry.names(role)
    given: dict[str, Any] = {}
    for key, value in table.items():
        if key == "use":
            continue
        name = _find_name(key, names)
        if name is None:
            raise ConfigError(
                f"unknown {ROLE_LABELS[role]} {key!r} in [{role}.{key}]{where}"
                f"{_suggest(key, ['use', *names])}"
            )
        if not isinstance(value, dict):
            raise ConfigError(f"[{role}.{key}]{where} must be a table of settings, got {value!r}")
        given[name] = value

    result = {}
    for name in names:
        if name not in given and name not in selected:
            continue
        model = registry.get(role, name).settings_model  # type: ignore[union-attr]
        result[(role, name)] = _validate_model(
            model, given.get(name, {}), f"[{role}.{name}]", where
        )
    return result


def _validate_model(
    model: type[BaseModel], data: dict[str, Any], section: str, where: str
) -> BaseModel:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise ConfigError(_describe_validation(error, model, section, where)) from None


def _describe_validation(
    error: ValidationError, model: type[BaseModel], section: str, where: str
) -> str:
    first = error.errors()[0]
    key = ".".join(str(part) for part in first["loc"]) or "(table)"
    valid = ", ".join(sorted(model.model_fields))
    if first["type"] == "extra_forbidden":
        return f"unknown key {key!r} in {section}{where}; valid keys: {valid or 'none'}"
    field_info = model.model_fields.get(str(first["loc"][0])) if first["loc"] else None
    help_text = f" ({field_info.description})" if field_info and field_info.description else ""
    return (
        f"invalid value for {key!r} in {section}{where}: {first['msg']}; "
        f"got {first.get('input')!r}{help_text}"
    )
