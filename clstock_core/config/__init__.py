"""Configuration: loading TOML, environment overrides and validation."""

from clstock_core.config.loader import CONFIG_ENV, load_raw_config
from clstock_core.config.model import AppConfig, EngineSettings, validate_config

__all__ = ["CONFIG_ENV", "AppConfig", "EngineSettings", "load_raw_config", "validate_config"]
