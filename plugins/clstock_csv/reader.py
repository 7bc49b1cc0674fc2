"""Parse one daily price CSV file into a frame indexed by exchange-local date.

Accepted layouts:

* one header line, as ``DataFrame.to_csv()`` or ``Ticker.history().to_csv()``
  writes it: ``Date,Open,High,Low,Close[,Adj Close],Volume`` in any order and
  case. The date column may also be the first, unnamed one.
* the multi-line header that ``yfinance.download(...).to_csv()`` writes, with
  the ``Price`` line first (``group_by="column"``) or the ``Ticker`` line
  first (``group_by="ticker"``)::

      Price,Adj Close,Close,High,Low,Open,Volume
      Ticker,7203.T,7203.T,7203.T,7203.T,7203.T,7203.T
      Date,,,,,,

A file that ``download`` wrote for several tickers is accepted too: only
the date column and the columns of the file's own ticker are read.

Dates may be plain (``2024-03-01``) or carry a UTC offset
(``2024-03-01 00:00:00+09:00``). Either way the index contains tz-naive Tokyo
trading dates, so callers can compare it with plain dates.
"""

from __future__ import annotations

import csv
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from clstock_core.errors import DataFetchError, NoDataError
from clstock_core.prices.normalize import exchange_dates

logger = logging.getLogger(__name__)

_DATE_NAMES = {"date", "datetime"}
_HEADER_LINES = 3


@dataclass(frozen=True)
class _Layout:
    """The header lines of a file and the columns of its own ticker."""

    #: Line numbers to skip so that the column-name line is the header.
    skip: list[int]
    #: Column positions to read, or None for all.
    columns: list[int] | None = None
    #: Names of those columns; pandas would add ".1" to repeated names.
    names: list[str] | None = None


def read_price_file(path: Path, ticker: str) -> pd.DataFrame:
    """Read ``path`` into a frame of its price columns indexed by ``date``.

    Raises :class:`DataFetchError` when the file cannot be parsed as CSV,
    and :class:`NoDataError` when it has no date column, no dated row, or
    (in the multi-line layout) no columns of ``ticker``.
    """
    try:
        layout = _header_layout(path, ticker)
        frame = pd.read_csv(
            path, header=0, skiprows=layout.skip, usecols=layout.columns, encoding="utf-8-sig"
        )
    # pandas' ParserError and EmptyDataError, UnicodeDecodeError and a
    # header too short for the selected columns are all ValueErrors.
    except (OSError, csv.Error, ValueError) as error:
        raise DataFetchError(
            f"cannot read {path}: {error}; check that it is a CSV price file"
        ) from None

    names = layout.names or frame.columns
    frame.columns = [str(column).strip() for column in names]
    date_column = _date_column(frame)
    if date_column is None:
        raise NoDataError(
            ticker, f"{path.name} has no Date column; expected a header starting with 'Date'"
        )

    dates = _parse_dates(frame[date_column])
    frame = frame.drop(columns=date_column).set_index(dates)
    frame = frame[frame.index.notna()]
    if frame.empty:
        raise NoDataError(ticker, f"{path.name} has no rows with a valid date")
    return frame


def _header_layout(path: Path, ticker: str) -> _Layout:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        lines = [handle.readline() for _ in range(_HEADER_LINES)]
    starts = [line.strip().lower() for line in lines]

    if not starts[0].startswith(("price,", "ticker,")):
        return _Layout(skip=[])

    # yfinance writes one header line per column level, then a line naming
    # the index ("Date,,,,"). Only the "Price" line names the columns.
    header = next((i for i, line in enumerate(starts) if line.startswith("price,")), None)
    if header is None:
        raise DataFetchError(
            f"cannot read {path}: it has a 'Ticker' header line but no 'Price' line; "
            f"expected the layout that yfinance.download(...).to_csv() writes"
        )
    skip = [
        i
        for i, line in enumerate(starts)
        if i != header and (line.startswith("ticker,") or _is_index_name_line(line))
    ]
    ticker_line = next((line for line in lines if line.lower().startswith("ticker,")), None)
    columns = _ticker_columns(path, ticker, ticker_line) if ticker_line else None
    if columns is None:
        return _Layout(skip=skip)
    price_names = next(csv.reader([lines[header]]))
    return _Layout(skip=skip, columns=columns, names=[price_names[i] for i in columns])


def _ticker_columns(path: Path, ticker: str, ticker_line: str) -> list[int] | None:
    """Return the column positions of ``ticker`` in a file that contains several tickers.

    Returns None (all columns) when the file contains one ticker. A file saved
    from one download of many tickers repeats each price name per ticker, so
    only the date column and the columns of ``ticker`` are read.
    """
    cells = [cell.strip().upper() for cell in next(csv.reader([ticker_line]))[1:]]
    named = sorted(set(cells) - {""})
    if len(named) <= 1:
        if named and named[0] != ticker:
            logger.warning(
                "%s names ticker %s in its header; reading it as %s", path, named[0], ticker
            )
        return None

    positions = [index for index, cell in enumerate(cells, start=1) if cell == ticker]
    if not positions:
        raise NoDataError(
            ticker, f"{path.name} contains columns of {', '.join(named)} but none of {ticker}"
        )
    return [0, *positions]


def _is_index_name_line(line: str) -> bool:
    first, _, rest = line.partition(",")
    return first in _DATE_NAMES and not rest.replace(",", "").strip()


def _date_column(frame: pd.DataFrame) -> str | None:
    for column in frame.columns:
        if column.lower() in _DATE_NAMES:
            return column
    first = frame.columns[0] if len(frame.columns) else ""
    # The multi-line layout puts the dates under "Price", and a frame saved
    # with an unnamed index leaves an "Unnamed: 0" column.
    if first.lower() == "price" or first.lower().startswith("unnamed"):
        return first
    return None


def _parse_dates(values: pd.Series) -> pd.DatetimeIndex:
    text = values.astype("string").str.strip()
    try:
        # Most files hold plain ISO dates; the fixed-format parser reads them
        # many times faster than "mixed", which is kept for everything else.
        parsed = pd.to_datetime(text, errors="raise", format="%Y-%m-%d")
    except ValueError:
        parsed = None
    if parsed is not None:
        return exchange_dates(pd.Index(parsed)).rename("date")

    try:
        # pandas 3 raises on mixed UTC offsets; pandas 2 only warns and
        # returns objects, so its warning is turned into the same error.
        with warnings.catch_warnings():
            warnings.simplefilter("error", FutureWarning)
            parsed = pd.to_datetime(text, errors="coerce", format="mixed")
    except (ValueError, FutureWarning):
        # Rows carry different UTC offsets, or some have one and some none.
        # Reading them as UTC keeps every stamp's instant; a plain date then
        # reads as 00:00 UTC, which is 09:00 the same day in Tokyo.
        parsed = pd.to_datetime(text, errors="coerce", format="mixed", utc=True)
    return exchange_dates(pd.Index(parsed)).rename("date")
