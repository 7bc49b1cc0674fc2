"""Query and path parameters: parsing, validation and their OpenAPI description."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from clstock_core.errors import InvalidSymbolError
from clstock_core.stockdata import PERIODS
from clstock_core.symbols import parse_symbol
from clstock_http.errors import invalid_parameter

TOP_N_MIN, TOP_N_MAX, TOP_N_DEFAULT = 1, 50, 10
PERIOD_DEFAULT = "1y"
_DIGITS_RE = re.compile(r"[0-9]{1,9}")
#: Codes as clstock_core.symbols accepts them, upper or lower case, optional ".T".
_LETTER = "ACDFGHJKLMNPRSTUWXYacdfghjklmnprstuwxy"
SYMBOL_PATTERN = rf"^[1-9][0-9{_LETTER}][0-9][0-9{_LETTER}](\.[Tt])?$"
_SYMBOL_RE = re.compile(SYMBOL_PATTERN.removeprefix("^").removesuffix("$"))


@dataclass(frozen=True)
class Param:
    """One parameter of a route, as the OpenAPI document describes it."""

    name: str
    location: str
    description: str
    schema: dict[str, Any] = field(default_factory=dict)
    required: bool = False


TOP_N = Param(
    "top_n",
    "query",
    f"Number of recommendations, {TOP_N_MIN} to {TOP_N_MAX}",
    {"type": "integer", "minimum": TOP_N_MIN, "maximum": TOP_N_MAX, "default": TOP_N_DEFAULT},
)
PERIOD = Param(
    "period",
    "query",
    "How far back the bars go, counted from the last bar",
    {"type": "string", "enum": list(PERIODS), "default": PERIOD_DEFAULT},
)
SYMBOL = Param(
    "symbol",
    "path",
    "TSE code or Yahoo ticker: '7203', '7203.T' or '130A'",
    {"type": "string", "pattern": SYMBOL_PATTERN},
    required=True,
)


def query_params(scope: dict) -> dict[str, str]:
    """Return the query parameters; a parameter given twice is invalid."""
    raw = scope.get("query_string", b"")
    if not raw:
        return {}
    params: dict[str, str] = {}
    for name, value in parse_qsl(raw.decode("latin-1"), keep_blank_values=True):
        if name in params:
            raise invalid_parameter(
                name, f"parameter {name!r} is given more than once; give it once", []
            )
        params[name] = value
    return params


def parse_top_n(params: dict[str, str]) -> int:
    text = params.get("top_n")
    if text is None:
        return TOP_N_DEFAULT
    accepted = [f"integer from {TOP_N_MIN} to {TOP_N_MAX}"]
    if not _DIGITS_RE.fullmatch(text) or not TOP_N_MIN <= int(text) <= TOP_N_MAX:
        excerpt = text if len(text) <= 20 else text[:20] + "..."
        raise invalid_parameter(
            "top_n",
            f"invalid top_n {excerpt!r}: expected an integer from {TOP_N_MIN} to {TOP_N_MAX}",
            accepted,
        )
    return int(text)


def parse_period(params: dict[str, str]) -> str:
    period = params.get("period", PERIOD_DEFAULT)
    if period not in PERIODS:
        excerpt = period if len(period) <= 20 else period[:20] + "..."
        raise invalid_parameter(
            "period",
            f"invalid period {excerpt!r}: expected one of {', '.join(PERIODS)}",
            list(PERIODS),
        )
    return period


def parse_ticker(scope: dict) -> str:
    """Return the Yahoo ticker of the ``symbol`` path parameter."""
    value = scope["path_params"]["symbol"]
    try:
        # The pattern is stricter than parse_symbol, which also strips
        # spaces, so the API accepts exactly what its OpenAPI document describes.
        if not _SYMBOL_RE.fullmatch(value):
            raise InvalidSymbolError(value)
        return parse_symbol(value).ticker
    except InvalidSymbolError:
        excerpt = value if len(value) <= 20 else value[:20] + "..."
        raise invalid_parameter(
            "symbol",
            f"invalid symbol {excerpt!r}: expected a 4-character TSE code such as '7203' "
            f"or '130A', optionally with the suffix '.T'",
            ["7203", "7203.T", "130A"],
        ) from None
