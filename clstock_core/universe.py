"""Universe files: the list of stocks a data source offers, with company names.

A universe file is a UTF-8 CSV (a byte-order mark is accepted) whose header
names a ``code`` or ``symbol`` column and optionally a ``name`` column, as
the TSE ``symbols.csv`` does::

    code,symbol,name
    7203,7203.T,トヨタ自動車
    130A,130A.T,Veritas In Silico

Data sources share this reader so every one of them accepts the same file.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterable, Mapping
from pathlib import Path

from clstock_core.errors import ConfigError, InvalidSymbolError
from clstock_core.models import StockInfo
from clstock_core.symbols import parse_symbol

logger = logging.getLogger(__name__)


def check_universe_file(path: Path, source: str) -> None:
    """Raise :class:`ConfigError` unless ``path`` is a readable file."""
    if not path.is_file():
        raise ConfigError(
            f"{source} data source: universe file {str(path)!r} does not exist; fix "
            f"[data_source.{source}] universe_file or remove the setting"
        )


def read_universe_file(path: Path, source: str) -> dict[str, str]:
    """Read a universe file into a mapping of Yahoo ticker to company name.

    Rows keep the file's order. A row whose code is invalid is logged and
    skipped, and a repeated code keeps its first name. ``source`` is the data
    source's name, used in messages. Raises :class:`ConfigError` when the
    file cannot be read or has neither a ``code`` nor a ``symbol`` column.
    """
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            return _read_rows(csv.DictReader(handle), path, source)
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise ConfigError(
            f"{source} data source: cannot read universe file {str(path)!r}: {error}; "
            f"expected a UTF-8 CSV with the header 'code,symbol,name'"
        ) from None


def _read_rows(reader: csv.DictReader, path: Path, source: str) -> dict[str, str]:
    fields = {name.strip().lower(): name for name in reader.fieldnames or [] if name}
    if "code" not in fields and "symbol" not in fields:
        raise ConfigError(
            f"{source} data source: universe file {str(path)!r} has no 'code' or 'symbol' "
            f"column (header: {reader.fieldnames}); expected a header 'code,symbol,name'"
        )

    names: dict[str, str] = {}
    for line, row in enumerate(reader, start=2):
        value = _cell(row, fields, "symbol") or _cell(row, fields, "code")
        try:
            ticker = parse_symbol(value).ticker
        except InvalidSymbolError as error:
            logger.warning("universe file %s line %d: %s; row skipped", path, line, error)
            continue
        names.setdefault(ticker, _cell(row, fields, "name"))
    return names


def _cell(row: Mapping[str, str | None], fields: Mapping[str, str], column: str) -> str:
    key = fields.get(column)
    return (row.get(key) or "").strip() if key else ""


def stock_list(tickers: Iterable[str], names: Mapping[str, str]) -> list[StockInfo]:
    """Build :class:`StockInfo` entries for ``tickers``, sorted by ticker."""
    return [
        StockInfo(code=parse_symbol(ticker).code, symbol=ticker, name=names.get(ticker, ""))
        for ticker in sorted(set(tickers))
    ]
