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

Dates may be plain (``2024-03-01``) or carry a UTC offset
(``2024-03-01 00:00:00+09:00``). Either way the index contains tz-naive Tokyo
trading dates, so callers can compare it with plain dates.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd

from clstock_core.errors import DataFetchError, NoDataError
from clstock_core.prices.normalize import exchange_dates

_DATE_NAMES = {"date", "datetime"}
_HEADER_LINES = 3


def read_price_file(path: Path, ticker: str) -> pd.DataFrame:
    """Read ``path`` into a frame of its price columns indexed by ``date``.

    Raises :class:`DataFetchError` when the file cannot be parsed as CSV,
    and :class:`NoDataError` when it has no date column or no dated row.
    """
    try:
        skip = _extra_header_lines(path)
        frame = pd.read_csv(path, header=0, skiprows=skip, encoding="utf-8-sig")
    except (
        OSError,
        UnicodeDecodeError,
        csv.Error,
        pd.errors.ParserError,
        pd.errors.EmptyDataError,
    ) as error:
        raise DataFetchError(
            f"cannot read {path}: {error}; check that it is a CSV price file"
        ) from None

    frame.columns = [str(column).strip() for column in frame.columns]
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


def _extra_header_lines(path: Path) -> list[int]:
    """Return the line numbers to skip so that the column-name line is the header."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        lines = [handle.readline() for _ in range(_HEADER_LINES)]
    starts = [line.strip().lower() for line in lines]

    if not starts[0].startswith(("price,", "ticker,")):
        return []

    # yfinance writes one header line per column level, then a line naming
    # the index ("Date,,,,"). Only the "Price" line names the columns.
    header = next((i for i, line in enumerate(starts) if line.startswith("price,")), None)
    if header is None:
        raise DataFetchError(
            f"cannot read {path}: it has a 'Ticker' header line but no 'Price' line; "
            f"expected the layout that yfinance.download(...).to_csv() writes"
        )
    return [
        i
        for i, line in enumerate(starts)
        if i != header and (line.startswith("ticker,") or _is_index_name_line(line))
    ]


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
        parsed = pd.to_datetime(text, errors="coerce", format="mixed")
    except ValueError:
        # Rows carry different UTC offsets, or some have one and some none.
        # Reading them as UTC keeps every stamp's instant; a plain date then
        # reads as 00:00 UTC, which is 09:00 the same day in Tokyo.
        parsed = pd.to_datetime(text, errors="coerce", format="mixed", utc=True)
    return exchange_dates(pd.Index(parsed)).rename("date")
