"""The ``yfinance`` data source: daily OHLCV from Yahoo Finance.

Tickers are fetched in batches with one ``yfinance.download`` call each.
``download`` reports a failed ticker only as empty columns (see
:mod:`clstock_yfinance.yahoo`), so each empty ticker is fetched once more
with ``Ticker.history`` to learn why: unknown ticker or no bars in the
window (:class:`NoDataError`), rate limit (:class:`SourceRateLimitedError`)
or network failure (:class:`SourceUnavailableError`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any

import pandas as pd

from clstock_core.errors import ClStockError, DataFetchError, NoDataError, SourceUnavailableError
from clstock_core.models import StockInfo
from clstock_core.roles import FetchResult
from clstock_core.symbols import parse_symbol
from clstock_core.universe import check_universe_file, read_universe_file, stock_list
from clstock_yfinance import yahoo
from clstock_yfinance.errors import KNOWN_ERRORS, map_error
from clstock_yfinance.settings import YfinanceSettings

logger = logging.getLogger(__name__)

_SOURCE = "yfinance"


class YfinanceSource:
    """A data source over Yahoo Finance, through yfinance."""

    def __init__(self, settings: YfinanceSettings) -> None:
        if settings.universe_file is not None:
            check_universe_file(settings.universe_file, _SOURCE)
        self.settings = settings

    @classmethod
    def from_settings(cls, settings: YfinanceSettings, app: object = None) -> YfinanceSource:
        return cls(settings)

    # -- universe -----------------------------------------------------------

    def list_stocks(self) -> list[StockInfo]:
        """Return the stocks of the universe file, or of the ``symbols`` setting."""
        if self.settings.universe_file is not None:
            names = read_universe_file(self.settings.universe_file, _SOURCE)
            return stock_list(names, names)
        if not self.settings.symbols:
            logger.warning(
                "yfinance data source has no universe: set [data_source.yfinance] "
                "universe_file or symbols to rank stocks"
            )
        return stock_list(self.settings.symbols, {})

    def version_tag(self, ticker: str) -> str:
        """Cache-key part that keeps adjusted and raw histories apart."""
        return "auto-adjusted" if self.settings.auto_adjust else ""

    # -- prices -------------------------------------------------------------

    def fetch(
        self, symbols: Sequence[str], *, start: dt.date | None = None, end: dt.date | None = None
    ) -> FetchResult:
        """Fetch daily bars of ``symbols`` between ``start`` and ``end``, both inclusive.

        Every requested ticker ends up in ``histories`` or in ``failures``.
        After a batch in which no ticker loaded because of a rate limit or
        a network failure, the remaining batches are not requested and fail
        with the same kind of error.
        """
        tickers = list(dict.fromkeys(parse_symbol(symbol).ticker for symbol in symbols))
        window = yahoo.date_window(start, end)
        result = FetchResult()

        size = self.settings.batch_size
        for offset in range(0, len(tickers), size):
            batch = tickers[offset : offset + size]
            blocking = self._fetch_batch(batch, window, result)
            if blocking is not None:
                _fail_rest(tickers[offset + size :], blocking, result)
                break
        return result

    def _fetch_batch(
        self, batch: list[str], window: dict[str, Any], result: FetchResult
    ) -> SourceUnavailableError | None:
        """Fetch one batch into ``result``.

        Returns the retryable error that stopped every ticker of the batch,
        or None when at least one ticker loaded or the failures are per ticker.
        """
        with yahoo.yfinance_options(self.settings.retries):
            try:
                frame = yahoo.download(
                    batch,
                    window,
                    threads=self.settings.threads,
                    timeout=self.settings.timeout,
                    auto_adjust=self.settings.auto_adjust,
                )
                histories = yahoo.split_by_ticker(frame, batch)
            except ClStockError:
                raise
            # yfinance parses responses of a third-party service and can raise
            # any exception when their format changes. Only this batch fails,
            # so the other batches of the ranking still load.
            except Exception as error:  # noqa: BLE001
                _log_unexpected(error, f"yfinance.download of {len(batch)} tickers")
                for ticker in batch:
                    result.failures[ticker] = map_error(error, ticker)
                first = result.failures[batch[0]]
                return first if isinstance(first, SourceUnavailableError) else None

            result.histories.update(histories)
            empty = [ticker for ticker in batch if ticker not in histories]
            blocking = self._diagnose(empty, window, result)

        if blocking is not None and not histories:
            return blocking
        return None

    def _diagnose(
        self, tickers: list[str], window: dict[str, Any], result: FetchResult
    ) -> SourceUnavailableError | None:
        """Fetch each ticker that ``download`` left empty on its own, to learn why.

        A rate limit or a network failure affects every request alike, so
        after the first one the remaining tickers fail with the same error
        without another request. Returns that error, if any.
        """
        for index, ticker in enumerate(tickers):
            outcome = self._history(ticker, window)
            if isinstance(outcome, pd.DataFrame):
                logger.info("%s: yfinance.download returned no bars, Ticker.history did", ticker)
                result.histories[ticker] = outcome
                continue

            result.failures[ticker] = outcome
            if isinstance(outcome, SourceUnavailableError):
                _fail_rest(tickers[index + 1 :], outcome, result)
                return outcome
        return None

    def _history(self, ticker: str, window: dict[str, Any]) -> pd.DataFrame | DataFetchError:
        try:
            frame = yahoo.history(
                ticker, window, timeout=self.settings.timeout, auto_adjust=self.settings.auto_adjust
            )
        except ClStockError:
            raise
        # See _fetch_batch: one ticker's unexpected yfinance error fails that ticker only.
        except Exception as error:  # noqa: BLE001
            _log_unexpected(error, f"Ticker.history of {ticker}")
            return map_error(error, ticker)

        bars = yahoo.priced_rows(frame) if isinstance(frame, pd.DataFrame) else None
        if bars is None or bars.empty:
            return NoDataError(
                ticker, "Yahoo Finance returned no daily bars for the requested dates"
            )
        return bars


def _fail_rest(tickers: list[str], cause: SourceUnavailableError, result: FetchResult) -> None:
    """Fail ``tickers``, which were not requested, with the kind of error ``cause`` is."""
    for ticker in tickers:
        error = type(cause)(f"{ticker} not requested after: {cause}")
        result.failures[ticker] = error


def _log_unexpected(error: BaseException, call: str) -> None:
    if isinstance(error, KNOWN_ERRORS):
        logger.debug("%s failed: %s: %s", call, type(error).__name__, error)
    else:
        logger.error("%s failed unexpectedly", call, exc_info=error)
