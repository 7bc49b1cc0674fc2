"""A stand-in for Yahoo Finance behind ``yfinance.Ticker.history``.

``yfinance.download`` calls ``Ticker.history`` once per ticker, so replacing
that one public method lets the real ``download`` run: its threads, its
swallowing of errors, and the two-level frame it builds are yfinance's own.

:func:`history_frame` builds what ``PriceHistory.history`` (yfinance 1.7)
returns for daily bars with ``auto_adjust=False, actions=False``: columns
``Open, High, Low, Close, Adj Close, Volume`` (float, ``Volume`` int64) and
an index named ``Date`` of midnights in Asia/Tokyo, built the way yfinance
builds it (``pd.to_datetime(dates).tz_localize(exchange_tz)``).
``test_yfinance.py::test_fake_history_matches_yfinance`` checks this against
yfinance's own parsing of a chart response.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

import numpy as np
import pandas as pd
import yfinance
from yfinance.exceptions import YFPricesMissingError

from tests.helpers import make_ohlcv

EXCHANGE_TZ = "Asia/Tokyo"


def history_frame(rows: pd.DataFrame) -> pd.DataFrame:
    """Return ``rows`` (``make_ohlcv`` columns) shaped as ``Ticker.history`` returns them."""
    index = pd.to_datetime([stamp.date() for stamp in rows.index]).tz_localize(EXCHANGE_TZ)
    frame = pd.DataFrame(
        {
            "Open": rows["open"].to_numpy(dtype="float64"),
            "High": rows["high"].to_numpy(dtype="float64"),
            "Low": rows["low"].to_numpy(dtype="float64"),
            "Close": rows["close"].to_numpy(dtype="float64"),
            "Adj Close": rows["adj_close"].to_numpy(dtype="float64"),
            "Volume": rows["volume"].to_numpy(dtype=np.int64),
        },
        index=index,
    )
    frame.index.name = "Date"
    return frame


def bars(days: int = 10, *, seed: int = 0, start: str = "2024-02-26") -> pd.DataFrame:
    """Synthetic daily bars on business days, ``make_ohlcv`` columns."""
    return make_ohlcv(days, seed=seed, start=start)


class FakeYahoo:
    """Serves configured bars or exceptions to ``Ticker.history`` calls.

    ``errors[ticker]`` is an exception to raise, or a list whose items are
    raised (or, for None, skipped) on successive calls. A ticker with neither
    bars nor an error is unknown to Yahoo.
    """

    def __init__(self) -> None:
        self.bars: dict[str, pd.DataFrame] = {}
        self.errors: dict[str, BaseException | list[BaseException | None]] = {}
        self.calls: list[tuple[str, dict]] = []
        self._lock = threading.Lock()

    def add(self, ticker: str, rows: pd.DataFrame) -> None:
        self.bars[ticker] = rows

    def fail(self, tickers: Iterable[str], error: BaseException | list) -> None:
        for ticker in tickers:
            self.errors[ticker] = error

    def calls_for(self, ticker: str) -> int:
        return sum(1 for name, _ in self.calls if name == ticker)

    def history(self, ticker: str, **kwargs: object) -> pd.DataFrame:
        with self._lock:
            self.calls.append((ticker, dict(kwargs)))
            error = self._next_error(ticker)
        if error is not None:
            raise error

        rows = self.bars.get(ticker)
        if rows is None:
            missing = YFPricesMissingError(ticker, "(1d)")
            # Like yfinance: raised only when hide_exceptions is off,
            # otherwise logged, and an empty frame is returned.
            if not yfinance.config.debug.hide_exceptions:
                raise missing
            return yfinance.utils.empty_df()
        return history_frame(_window(rows, kwargs))

    def _next_error(self, ticker: str) -> BaseException | None:
        planned = self.errors.get(ticker)
        if isinstance(planned, list):
            return planned.pop(0) if planned else None
        return planned


def _window(rows: pd.DataFrame, kwargs: dict) -> pd.DataFrame:
    """Rows in yfinance's window: ``start`` inclusive, ``end`` exclusive."""
    start, end = kwargs.get("start"), kwargs.get("end")
    if start is not None:
        rows = rows[rows.index >= pd.Timestamp(start)]
    if end is not None:
        rows = rows[rows.index < pd.Timestamp(end)]
    return rows
