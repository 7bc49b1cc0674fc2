"""Load the full price history that training and evaluation need."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence

from clstock_core.engine import Engine, LoadedUniverse, Progress
from clstock_core.symbols import parse_symbol

logger = logging.getLogger(__name__)


def load_history(
    engine: Engine,
    symbols: Sequence[str] | None = None,
    *,
    start: dt.date | None = None,
    progress: Progress | None = None,
) -> LoadedUniverse:
    """Load ``symbols`` (default: the configured universe) from ``start`` (default: all).

    A source with a ``load_panel(symbols, start=...)`` method, such as the
    parquet source, reads the whole universe in one pass. Any other source
    goes through :meth:`Engine.load`, symbol batch by symbol batch and
    through the cache.
    """
    start = start or dt.date(1970, 1, 1)
    load_panel = getattr(engine.source, "load_panel", None)
    if not callable(load_panel):
        return engine.load(symbols, start=start, progress=progress)

    stocks = {info.symbol: info for info in engine.stocks()}
    tickers = [parse_symbol(symbol).ticker for symbol in symbols] if symbols else sorted(stocks)
    if progress:
        progress(0, len(tickers))
    panel = load_panel(tickers, start=start)
    if progress:
        progress(len(tickers), len(tickers))

    loaded = set(panel.symbols)
    failures = {
        ticker: "no valid daily bars in the source" for ticker in tickers if ticker not in loaded
    }
    logger.debug("loaded %d of %d symbols in one pass", len(loaded), len(tickers))
    return LoadedUniverse(panel=panel, stocks=stocks, failures=failures)
