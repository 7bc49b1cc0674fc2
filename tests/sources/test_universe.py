"""Universe files shared by every data source."""

from __future__ import annotations

import logging

import pytest

from clstock_core.errors import ConfigError
from clstock_core.universe import check_universe_file, read_universe_file, stock_list


def test_reads_names_in_file_order(tmp_path):
    path = tmp_path / "symbols.csv"
    path.write_text(
        "code,symbol,name\n7203,7203.T,トヨタ自動車\n130A,130A.T,Veritas In Silico\n",
        encoding="utf-8",
    )

    names = read_universe_file(path, "csv")

    assert list(names.items()) == [("7203.T", "トヨタ自動車"), ("130A.T", "Veritas In Silico")]


def test_bom_and_header_case(tmp_path):
    path = tmp_path / "symbols.csv"
    path.write_text("\ufeffCode, Name \n7203, Toyota \n", encoding="utf-8")

    assert read_universe_file(path, "csv") == {"7203.T": "Toyota"}


def test_symbol_column_alone(tmp_path):
    path = tmp_path / "symbols.csv"
    path.write_text("symbol\n130a.t\n6758.T\n", encoding="utf-8")

    assert read_universe_file(path, "csv") == {"130A.T": "", "6758.T": ""}


def test_invalid_rows_skipped_with_warning(tmp_path, caplog):
    path = tmp_path / "symbols.csv"
    path.write_text(
        "code,name\n7203,Toyota\n0123,Bad\n,Empty\n130B,Bad letter\n6758,Sony\n", encoding="utf-8"
    )

    with caplog.at_level(logging.WARNING, logger="clstock_core.universe"):
        names = read_universe_file(path, "csv")

    assert names == {"7203.T": "Toyota", "6758.T": "Sony"}
    assert "line 3" in caplog.text
    assert "'0123'" in caplog.text
    assert "line 5" in caplog.text


def test_repeated_code_keeps_first_name(tmp_path):
    path = tmp_path / "symbols.csv"
    path.write_text("code,name\n7203,Toyota\n7203.T,Toyota again\n", encoding="utf-8")

    assert read_universe_file(path, "csv") == {"7203.T": "Toyota"}


def test_no_code_column_is_config_error(tmp_path):
    path = tmp_path / "symbols.csv"
    path.write_text("ticker,company\n7203,Toyota\n", encoding="utf-8")

    with pytest.raises(ConfigError) as info:
        read_universe_file(path, "parquet")

    message = str(info.value)
    assert "parquet data source" in message
    assert "no 'code' or 'symbol' column" in message
    assert "code,symbol,name" in message


def test_undecodable_file_is_config_error(tmp_path):
    path = tmp_path / "symbols.csv"
    path.write_bytes("code,name\n7203,トヨタ\n".encode("shift_jis"))

    with pytest.raises(ConfigError, match="cannot read universe file"):
        read_universe_file(path, "csv")


def test_missing_file_names_setting(tmp_path):
    with pytest.raises(ConfigError) as info:
        check_universe_file(tmp_path / "absent.csv", "yfinance")

    assert "absent.csv" in str(info.value)
    assert "[data_source.yfinance] universe_file" in str(info.value)


def test_stock_list_sorted_with_codes():
    stocks = stock_list(["7203.T", "130A.T", "7203.T"], {"130A.T": "Veritas In Silico"})

    assert [(s.code, s.symbol, s.name) for s in stocks] == [
        ("130A", "130A.T", "Veritas In Silico"),
        ("7203", "7203.T", ""),
    ]
