"""Configuration: file selection, validation messages, overrides, redaction."""

from __future__ import annotations

from pathlib import Path

import pytest

from clstock_core.app import Application
from clstock_core.config.loader import load_raw_config
from clstock_core.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "clstock.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_file():
    app = Application(environ={"CLSTOCK_DISABLE_PLUGIN_AUTOLOAD": "1"})
    assert app.config.path is None
    assert app.config.selected("predictors") == ["technical"]
    assert app.config.engine.top == 10


def test_config_env_var_selects_file(tmp_path, offline_config):
    app = Application(environ={"CLSTOCK_CONFIG": str(offline_config)})
    assert app.config.path == offline_config
    assert app.config.selected("data_source") == ["csv"]


def test_option_beats_env_var(tmp_path, offline_config):
    other = write(tmp_path, "[engine]\ntop = 3\n")
    app = Application(offline_config, environ={"CLSTOCK_CONFIG": str(other)})
    assert app.config.path == offline_config


def test_missing_file_names_path(tmp_path):
    with pytest.raises(ConfigError, match="nope.toml.*not found"):
        Application(tmp_path / "nope.toml", environ={})


def test_invalid_toml_names_file(tmp_path):
    path = write(tmp_path, "[engine\ntop = 3\n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        Application(path, environ={})


def test_unknown_section_lists_valid(tmp_path):
    path = write(tmp_path, "[enigne]\ntop = 3\n")
    with pytest.raises(ConfigError) as info:
        Application(path, environ={})
    message = str(info.value)
    assert "unknown config section [enigne]" in message
    assert "did you mean 'engine'" in message
    assert "data_source" in message


def test_unknown_plugin_name_lists_installed(tmp_path):
    path = write(tmp_path, '[data_source]\nuse = "yfinanse"\n')
    with pytest.raises(ConfigError) as info:
        Application(path, environ={})
    message = str(info.value)
    assert "unknown data source 'yfinanse'" in message
    assert "csv" in message
    assert "yfinance" in message


def test_unknown_setting_key_lists_valid_keys(tmp_path, price_dir):
    path = write(
        tmp_path,
        f'[data_source]\nuse = "csv"\n[data_source.csv]\n'
        f'directory = "{price_dir.as_posix()}"\ndirectroy = "x"\n',
    )
    with pytest.raises(ConfigError) as info:
        Application(path, environ={})
    message = str(info.value)
    assert "unknown key 'directroy'" in message
    assert "directory" in message
    assert "universe_file" in message


def test_wrong_type_names_key_and_value(tmp_path):
    path = write(tmp_path, '[engine]\ntop = "many"\n')
    with pytest.raises(ConfigError, match=r"invalid value for 'top' in \[engine\].*'many'"):
        Application(path, environ={})


def test_predictor_list_rejects_duplicates(tmp_path):
    path = write(tmp_path, '[predictors]\nuse = ["technical", "technical"]\n')
    with pytest.raises(ConfigError, match="twice"):
        Application(path, environ={})


def test_env_override_sets_nested_value(tmp_path, offline_config):
    app = Application(
        offline_config, environ={"CLSTOCK_ENGINE__TOP": "3", "CLSTOCK_CACHE__USE": "none"}
    )
    assert app.config.engine.top == 3
    assert app.config.selected("cache") == ["none"]


def test_env_override_of_hyphenated_plugin():
    raw, _ = load_raw_config(None, {"CLSTOCK_AUTH__API_KEY__HEADER": "x"})
    assert raw == {"auth": {"api_key": {"header": "x"}}}


def test_env_override_rejects_empty_part():
    with pytest.raises(ConfigError, match="CLSTOCK_SECTION__KEY"):
        load_raw_config(None, {"CLSTOCK_ENGINE____TOP": "3"})


def test_variable_expansion(tmp_path):
    path = write(tmp_path, '[data_source.csv]\ndirectory = "${DATA}/prices"\n')
    raw, _ = load_raw_config(path, {"DATA": "/srv/tse"})
    assert raw["data_source"]["csv"]["directory"] == "/srv/tse/prices"


def test_variable_default(tmp_path):
    path = write(tmp_path, '[data_source.csv]\ndirectory = "${DATA:-/opt/tse}/prices"\n')
    raw, _ = load_raw_config(path, {})
    assert raw["data_source"]["csv"]["directory"] == "/opt/tse/prices"


def test_missing_variable_names_key_and_variable(tmp_path):
    path = write(tmp_path, '[data_source.csv]\ndirectory = "${CLSTOCK_DATA_DIR}/prices"\n')
    with pytest.raises(ConfigError) as info:
        load_raw_config(path, {})
    assert "data_source.csv.directory" in str(info.value)
    assert "CLSTOCK_DATA_DIR" in str(info.value)


def test_redacted_masks_secret_keys(offline_config):
    app = Application(offline_config, environ={})
    app.config.settings[("data_source", "csv")] = app.config.settings[("data_source", "csv")]
    shown = app.config.redacted()
    assert shown["data_source"]["use"] == "csv"
    assert shown["engine"]["top"] == 10


def test_redact_helper_masks_nested_secrets():
    from clstock_core.config.model import _redact

    value = {
        "keys": [{"hash": "abc", "label": "ops"}],
        "client_secret": "s3cret",
        "password": "",
        "token": None,
    }
    masked = _redact(value)
    assert masked["client_secret"] == "**********"
    assert masked["keys"] == [{"hash": "abc", "label": "ops"}]
    assert masked["password"] == ""
