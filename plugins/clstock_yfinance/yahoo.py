"""The calls into yfinance, and the shape of what they return.

``yfinance.download`` (1.7) fetches each ticker in a worker thread, catches
every exception a ticker raises (a rate limit included), logs it on the
``yfinance`` logger and returns all-NaN columns for that ticker. The errors
stay in a per-call context that the caller cannot read, and
``yfinance.shared._ERRORS`` is no longer filled. :func:`history` fetches one
ticker with ``Ticker.history`` instead, with
``yfinance.config.debug.hide_exceptions`` off so that the exception itself
reaches the caller.

With ``ignore_tz=False`` and ``multi_level_index=True``, ``download``
returns columns with two levels named ``Price`` and ``Ticker`` (in that
order for ``group_by="column"``), even for one ticker, and an index of
tz-aware midnights in Asia/Tokyo named ``Date``.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pandas as pd
import yfinance

from clstock_core.errors import DataFetchError

PRICE_COLUMNS = ["Open", "High", "Low", "Close"]
TICKER_LEVEL = "Ticker"

# download() sets the process-wide thread limit of the multitasking package,
# and hide_exceptions and retries are process-wide yfinance settings, so
# calls from this plugin run one at a time.
_LOCK = threading.Lock()


@contextmanager
def yfinance_options(retries: int) -> Iterator[None]:
    """Run yfinance calls with exceptions raised and ``retries`` network retries.

    ``download`` logs each failed ticker at ERROR level, and the caller
    reports the same failures with their cause, so yfinance's logger is
    muted during the calls unless it is enabled for DEBUG. The previous
    yfinance settings and logger level come back afterwards.
    """
    with _LOCK:
        debug, network = yfinance.config.debug, yfinance.config.network
        saved = (debug.hide_exceptions, network.retries)
        logger = logging.getLogger("yfinance")
        saved_level = logger.level
        debug.hide_exceptions = False
        network.retries = retries
        if not logger.isEnabledFor(logging.DEBUG):
            logger.setLevel(logging.CRITICAL)
        try:
            yield
        finally:
            debug.hide_exceptions, network.retries = saved
            logger.setLevel(saved_level)


def date_window(start: dt.date | None, end: dt.date | None) -> dict[str, Any]:
    """Return yfinance's ``start``/``end``/``period`` arguments for inclusive dates.

    yfinance's ``end`` is exclusive, and without ``start`` it fetches one
    month, so an open start requests the whole history (``period="max"``).
    """
    window: dict[str, Any] = {"start": start.isoformat()} if start else {"period": "max"}
    if end is not None:
        window["end"] = (end + dt.timedelta(days=1)).isoformat()
    return window


def download(
    tickers: Sequence[str],
    window: dict[str, Any],
    *,
    threads: int,
    timeout: float,
    auto_adjust: bool,
) -> pd.DataFrame | None:
    """Download daily bars of ``tickers`` in one ``yfinance.download`` call."""
    return yfinance.download(
        tickers=list(tickers),
        interval="1d",
        group_by="column",
        auto_adjust=auto_adjust,
        actions=False,
        progress=False,
        threads=threads if threads > 0 else False,
        timeout=timeout,
        ignore_tz=False,
        multi_level_index=True,
        **window,
    )


def history(
    ticker: str, window: dict[str, Any], *, timeout: float, auto_adjust: bool
) -> pd.DataFrame:
    """Fetch one ticker with ``Ticker.history``, which raises what went wrong."""
    return yfinance.Ticker(ticker).history(
        interval="1d",
        auto_adjust=auto_adjust,
        actions=False,
        timeout=timeout,
        **window,
    )


def split_by_ticker(frame: pd.DataFrame | None, tickers: Sequence[str]) -> dict[str, pd.DataFrame]:
    """Return each ticker's bars from a ``download`` frame.

    Rows where the ticker has no price (the padding ``download`` adds to
    align tickers on one index) are dropped. Tickers without a single priced
    row are left out.
    """
    if frame is None or frame.empty:
        return {}
    columns = frame.columns
    if not isinstance(columns, pd.MultiIndex) or TICKER_LEVEL not in columns.names:
        raise DataFetchError(
            f"yfinance.download returned column levels {list(columns.names)}; "
            f"expected 'Price' and 'Ticker' (yfinance 1.x with multi_level_index=True)"
        )

    present = set(columns.get_level_values(TICKER_LEVEL))
    histories = {}
    for ticker in tickers:
        if ticker not in present:
            continue
        bars = priced_rows(frame.xs(ticker, axis=1, level=TICKER_LEVEL))
        if not bars.empty:
            histories[ticker] = bars
    return histories


def priced_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows of a one-ticker frame with at least one price."""
    prices = [column for column in PRICE_COLUMNS if column in frame.columns]
    if not prices:
        return frame.iloc[0:0]
    return frame.dropna(how="all", subset=prices).copy()
