"""TSE security codes and their Yahoo Finance tickers.

A TSE code has four characters. The first and third are digits; since 2024
the second and fourth may also be capital letters (``130A``), except B, E, I,
O, Q, V and Z, which JPX never assigns because they read like digits.
Yahoo adds the exchange suffix ``.T``. Codes are always strings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from clstock_core.errors import InvalidSymbolError

_LETTER = "ACDFGHJKLMNPRSTUWXY"
_CODE_RE = re.compile(rf"^[1-9][0-9{_LETTER}][0-9][0-9{_LETTER}]$")
_SUFFIX = ".T"


@dataclass(frozen=True, order=True)
class Symbol:
    """A TSE stock: ``code`` is ``7203`` and ``ticker`` is ``7203.T``."""

    code: str

    @property
    def ticker(self) -> str:
        return f"{self.code}{_SUFFIX}"

    def __str__(self) -> str:
        return self.ticker


def parse_symbol(value: object) -> Symbol:
    """Parse ``7203``, ``7203.T`` or ``130a.t`` into a :class:`Symbol`.

    Raises :class:`InvalidSymbolError` naming the value for anything else,
    integers included: a code such as ``0`` padding or ``130A`` cannot survive
    a round trip through ``int``.
    """
    if not isinstance(value, str):
        raise InvalidSymbolError(
            f"invalid symbol {value!r}: pass the TSE code as a string, e.g. '7203' or '7203.T'"
        )

    text = value.strip().upper()
    if text.endswith(_SUFFIX):
        text = text[: -len(_SUFFIX)]

    # fullmatch: with match, "$" would also accept a trailing newline ("7203\n.T").
    if not _CODE_RE.fullmatch(text):
        raise InvalidSymbolError(
            f"invalid symbol {value!r}: expected a 4-character TSE code such as '7203' "
            f"or '130A', optionally with the Yahoo suffix '.T'"
        )
    return Symbol(text)


def to_ticker(value: object) -> str:
    """Return the Yahoo ticker (``7203.T``) for any accepted form of a symbol."""
    return parse_symbol(value).ticker
