"""TSE codes and Yahoo tickers."""

from __future__ import annotations

import pytest

from clstock_core.errors import InvalidSymbolError
from clstock_core.symbols import Symbol, parse_symbol, to_ticker


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("7203", "7203"),
        ("7203.T", "7203"),
        ("7203.t", "7203"),
        (" 7203.T ", "7203"),
        ("130A", "130A"),
        ("130a.t", "130A"),
        ("141A.T", "141A"),
        ("1A2C", "1A2C"),
        ("9999", "9999"),
        ("1000", "1000"),
    ],
)
def test_valid_symbols(value, code):
    symbol = parse_symbol(value)

    assert symbol == Symbol(code)
    assert symbol.code == code
    assert symbol.ticker == f"{code}.T"
    assert str(symbol) == f"{code}.T"


@pytest.mark.parametrize(
    "value",
    [
        "0123",  # a code never starts with 0
        "130B",  # B reads like 8 and is never assigned
        "130E",
        "130I",
        "130O",
        "130Q",
        "130V",
        "130Z",
        "13A0",  # the third character is always a digit
        "A300",  # the first character is always a digit
        "ABCD",
        "",
        "   ",
        "72031",
        "720",
        "7203.T.T",
        "7203.TO",
        "7203T",
        "7203.",
        "７２０３",  # full-width digits
        "7203\n.T",
    ],
)
def test_invalid_strings(value):
    with pytest.raises(InvalidSymbolError) as info:
        parse_symbol(value)

    assert repr(value) in str(info.value)


@pytest.mark.parametrize("value", [7203, 7203.0, None, b"7203", ["7203"]])
def test_non_strings_rejected(value):
    with pytest.raises(InvalidSymbolError, match="as a string"):
        parse_symbol(value)


def test_invalid_symbol_is_value_error():
    with pytest.raises(ValueError):
        parse_symbol("ABCD")


def test_to_ticker():
    assert to_ticker("130a") == "130A.T"
    assert to_ticker("7203.T") == "7203.T"


def test_symbols_sort_by_code():
    symbols = sorted(parse_symbol(value) for value in ["7203", "130A", "1301"])

    assert [symbol.code for symbol in symbols] == ["1301", "130A", "7203"]
