"""Read the raw configuration: TOML file, ``${VAR}`` expansion, env overrides."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from clstock_core.errors import ConfigError

CONFIG_ENV = "CLSTOCK_CONFIG"
OVERRIDE_PREFIX = "CLSTOCK_"
OVERRIDE_SEPARATOR = "__"

_VARIABLE_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def resolve_config_path(path: str | Path | None, environ: Mapping[str, str]) -> Path | None:
    """Pick the file from ``--config``, else ``CLSTOCK_CONFIG``, else none (defaults)."""
    if path is not None:
        return Path(path)
    from_env = environ.get(CONFIG_ENV, "").strip()
    return Path(from_env) if from_env else None


def load_raw_config(
    path: str | Path | None = None, environ: Mapping[str, str] | None = None
) -> tuple[dict[str, Any], Path | None]:
    """Return the merged raw configuration and the file it came from."""
    environ = os.environ if environ is None else environ
    config_path = resolve_config_path(path, environ)

    raw: dict[str, Any] = {}
    if config_path is not None:
        raw = _read_toml(config_path)
        raw = _expand(raw, environ, ())

    _apply_overrides(raw, environ)
    return raw, config_path


def _read_toml(path: Path) -> dict[str, Any]:
    # Reading a FIFO or a device such as /dev/zero would block or never end.
    if path.exists() and not path.is_file():
        raise ConfigError(
            f"config file {str(path)!r} is not a regular file; pass a TOML file with --config"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"config file {str(path)!r} not found; pass an existing file with --config "
            f"or unset {CONFIG_ENV}"
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read config file {str(path)!r}: {error}") from None

    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"invalid TOML in config file {str(path)!r}: {error}") from None


def _expand(value: Any, environ: Mapping[str, str], where: tuple[str, ...]) -> Any:
    """Replace ``${VAR}`` and ``${VAR:-default}`` in every string value."""
    if isinstance(value, dict):
        return {key: _expand(item, environ, (*where, key)) for key, item in value.items()}
    if isinstance(value, list):
        return [_expand(item, environ, where) for item in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in environ:
            return environ[name]
        if default is not None:
            return default
        raise ConfigError(
            f"config key {'.'.join(where)!r} uses ${{{name}}}, but the environment "
            f"variable {name} is not set; set it or write ${{{name}:-default}}"
        )

    return _VARIABLE_RE.sub(substitute, value)


def _parse_override(text: str) -> Any:
    """Read an override as a TOML value (number, bool, array), else as a string."""
    try:
        return tomllib.loads(f"value = {text}")["value"]
    except tomllib.TOMLDecodeError:
        return text


def _apply_overrides(raw: dict[str, Any], environ: Mapping[str, str]) -> None:
    """Apply ``CLSTOCK_SECTION__KEY[__SUBKEY]=value`` variables.

    Only names containing the double underscore are overrides, so settings
    such as ``CLSTOCK_CONFIG`` or ``CLSTOCK_DATA_DIR`` never collide.
    Hyphens in section names are written as underscores (``API_KEY``).
    """
    for name in sorted(environ):
        if not name.startswith(OVERRIDE_PREFIX) or OVERRIDE_SEPARATOR not in name:
            continue
        path = [part.lower() for part in name[len(OVERRIDE_PREFIX) :].split(OVERRIDE_SEPARATOR)]
        if any(not part for part in path):
            raise ConfigError(
                f"invalid override variable {name!r}: write CLSTOCK_SECTION__KEY, "
                f"e.g. CLSTOCK_DATA_SOURCE__USE=csv"
            )

        table = raw
        for part in path[:-1]:
            key = _match_key(table, part)
            child = table.setdefault(key, {})
            if not isinstance(child, dict):
                raise ConfigError(f"override {name!r} descends into {key!r}, which is not a table")
            table = child
        table[_match_key(table, path[-1])] = _parse_override(environ[name])


def _match_key(table: dict[str, Any], env_part: str) -> str:
    """Find the existing key that an upper-cased, underscored name refers to."""
    for key in table:
        if key.lower().replace("-", "_") == env_part:
            return key
    return env_part
