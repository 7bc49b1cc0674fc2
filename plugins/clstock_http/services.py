"""Computed rankings and stock histories, cached in memory between requests.

A ranking is computed once for the whole universe and kept as a snapshot.
Every ``top_n`` and every single-symbol response is a slice of it, serialized
once and reused. After ``refresh_seconds`` the next request reloads the data
in the background while the old snapshot is still served. When the reloaded
data has the same inputs and the same as-of date, the snapshot is kept and
nothing is recomputed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from clstock_core.errors import SourceUnavailableError
from clstock_core.models import RankingReport, Recommendation, SkippedSymbol, StockInfo
from clstock_core.stockdata import build_stock_data
from clstock_http.concurrency import EngineRunner, SingleFlight

logger = logging.getLogger(__name__)

#: Seconds between two attempts to reload after a failed background refresh.
RETRY_AFTER_FAILURE = 30.0


@dataclass
class RankingSnapshot:
    """A ranking of the whole universe and the JSON served from it."""

    key: tuple[Any, ...]
    generated_at: dt.datetime
    as_of: dt.date | None
    universe_size: int
    recommendations: list[Recommendation]
    skipped: list[SkippedSymbol]
    loaded_at: float
    universe: frozenset[str] = frozenset()
    by_symbol: dict[str, Recommendation] = field(default_factory=dict)
    skip_reasons: dict[str, str] = field(default_factory=dict)
    _report_json: dict[int, bytes] = field(default_factory=dict)
    _response_json: dict[tuple[int, bytes], bytes] = field(default_factory=dict)
    _symbol_json: dict[str, bytes] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.by_symbol = {rec.symbol: rec for rec in self.recommendations}
        self.skip_reasons = {item.symbol: item.reason for item in self.skipped}

    def report(self, top_n: int) -> RankingReport:
        return RankingReport(
            generated_at=self.generated_at,
            as_of=self.as_of,
            universe_size=self.universe_size,
            recommendations=self.recommendations[:top_n],
            skipped=self.skipped,
        )

    def report_json(self, top_n: int) -> bytes:
        cached = self._report_json.get(top_n)
        if cached is None:
            cached = self.report(top_n).model_dump_json().encode()
            self._report_json[top_n] = cached
        return cached

    def response_json(self, top_n: int, market_json: bytes) -> bytes:
        """Return the RecommendationsResponse JSON for ``top_n`` and a market status.

        The bytes equal ``RecommendationsResponse(...).model_dump_json()``
        (compact JSON, fields in model order), built without serializing
        the report again. The market status changes a few times a day, so
        few combinations are ever kept.
        """
        key = (top_n, market_json)
        cached = self._response_json.get(key)
        if cached is None:
            if len(self._response_json) > 4 * 50:
                self._response_json.clear()
            cached = b'{"report":' + self.report_json(top_n) + b',"market":' + market_json + b"}"
            self._response_json[key] = cached
        return cached

    def recommendation_json(self, ticker: str) -> bytes | None:
        cached = self._symbol_json.get(ticker)
        if cached is None:
            recommendation = self.by_symbol.get(ticker)
            if recommendation is None:
                return None
            cached = recommendation.model_dump_json().encode()
            self._symbol_json[ticker] = cached
        return cached


class _EngineService:
    """Shared state of the services: the engine, its worker thread and a single-flight gate."""

    def __init__(
        self,
        engine: Any,
        runner: EngineRunner,
        *,
        refresh_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._engine = engine
        self._runner = runner
        self._refresh_seconds = refresh_seconds
        self._clock = clock
        self._flight = SingleFlight()

    def stop(self) -> None:
        self._flight.cancel_all()


class RankingService(_EngineService):
    """Serves ranking snapshots; computes one at a time, off the event loop."""

    def __init__(
        self,
        engine: Any,
        runner: EngineRunner,
        *,
        refresh_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(engine, runner, refresh_seconds=refresh_seconds, clock=clock)
        self._snapshot: RankingSnapshot | None = None
        self._next_attempt = 0.0
        self._last_error: Exception | None = None
        #: Number of times the predictors ran; tests and logs use it.
        self.computations = 0

    @property
    def cached(self) -> bool:
        return self._snapshot is not None

    @property
    def loaded_at(self) -> float | None:
        """Clock reading of the last successful load, or None before the first."""
        return self._snapshot.loaded_at if self._snapshot is not None else None

    async def snapshot(self) -> RankingSnapshot:
        """Return the current snapshot, computing the first one if needed."""
        snapshot = self._snapshot
        if snapshot is None:
            computed = await self._flight.run("ranking", self._refresh)
            if computed is None:
                # This request joined a background refresh (the warm-up) that
                # failed, so it gets that refresh's error, e.g. a 503 for an outage.
                raise self._last_error or RuntimeError("ranking refresh failed")
            return computed

        now = self._clock()
        due = now - snapshot.loaded_at >= self._refresh_seconds
        if due and now >= self._next_attempt and not self._flight.running("ranking"):
            self._flight.start("ranking", self._refresh_in_background)
        return snapshot

    def start_warm_up(self) -> None:
        self._flight.start("ranking", self._refresh_in_background)

    def clear(self) -> int:
        dropped = 1 if self._snapshot is not None else 0
        self._snapshot = None
        return dropped

    async def _refresh_in_background(self) -> RankingSnapshot | None:
        try:
            return await self._refresh()
        # A failed background refresh keeps serving the previous snapshot;
        # the error is logged here because no request is waiting for it.
        except Exception as error:  # noqa: BLE001
            self._last_error = error
            self._next_attempt = self._clock() + RETRY_AFTER_FAILURE
            logger.warning(
                "background ranking refresh failed (%s: %s); serving the previous ranking, "
                "next attempt in %.0f s",
                type(error).__name__,
                error,
                RETRY_AFTER_FAILURE,
            )
            return None

    async def _refresh(self) -> RankingSnapshot:
        snapshot = await self._runner.run(self._compute, self._snapshot)
        self._snapshot = snapshot
        return snapshot

    def _compute(self, previous: RankingSnapshot | None) -> RankingSnapshot:
        """Load the universe and rank it, unless inputs and as-of date are unchanged."""
        started = time.perf_counter()
        universe = self._engine.load()
        _raise_if_unavailable(universe)

        key = (
            universe.panel.as_of,
            tuple(sorted(universe.stocks)),
            tuple(sorted(universe.panel.symbols)),
            tuple(getattr(p, "name", type(p).__name__) for p in self._engine.predictors),
            self._engine.settings.model_dump_json(),
        )
        if previous is not None and previous.key == key:
            logger.info(
                "ranking inputs unchanged (data as of %s); keeping the computed ranking", key[0]
            )
            return dataclasses.replace(previous, loaded_at=self._clock())

        recommendations, skipped = self._engine.recommend_all(universe)
        self.computations += 1
        logger.info(
            "ranked %d stocks (data as of %s) in %.1f s; %d skipped",
            len(recommendations),
            universe.panel.as_of,
            time.perf_counter() - started,
            len(skipped),
        )
        return RankingSnapshot(
            key=key,
            generated_at=dt.datetime.now(dt.UTC),
            as_of=universe.panel.as_of,
            universe_size=len(universe.stocks),
            recommendations=recommendations,
            skipped=skipped,
            loaded_at=self._clock(),
            universe=frozenset(universe.stocks),
        )


def _raise_if_unavailable(universe: Any) -> None:
    """Raise SourceUnavailableError when nothing loaded because the source was down."""
    if len(universe.panel) > 0:
        return
    outages = [e for e in universe.errors.values() if isinstance(e, SourceUnavailableError)]
    if outages:
        waits = [e.retry_after for e in outages if e.retry_after is not None]
        raise SourceUnavailableError(
            f"no price history loaded: {len(outages)} symbol(s) failed with {outages[0]}",
            retry_after=max(waits) if waits else None,
        )


@dataclass
class _StockEntry:
    json: bytes
    loaded_at: float


class StockDataService(_EngineService):
    """Serves one stock's history and indicators per (symbol, period), cached in memory."""

    def __init__(
        self,
        engine: Any,
        runner: EngineRunner,
        *,
        refresh_seconds: float,
        max_entries: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(engine, runner, refresh_seconds=refresh_seconds, clock=clock)
        self._max_entries = max_entries
        self._entries: OrderedDict[tuple[str, str], _StockEntry] = OrderedDict()
        self.computations = 0

    async def stock_json(self, ticker: str, period: str) -> bytes:
        key = (ticker, period)
        entry = self._entries.get(key)
        if entry is not None and self._clock() - entry.loaded_at < self._refresh_seconds:
            self._entries.move_to_end(key)
            return entry.json
        return await self._flight.run(key, lambda: self._load(key))

    async def _load(self, key: tuple[str, str]) -> bytes:
        data = await self._runner.run(build_stock_data, self._engine, *key)
        self.computations += 1
        body = data.model_dump_json().encode()
        if self._max_entries > 0:
            self._entries[key] = _StockEntry(body, self._clock())
            self._entries.move_to_end(key)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)
        return body

    def clear(self) -> int:
        dropped = len(self._entries)
        self._entries.clear()
        return dropped


class StockListService(_EngineService):
    """Serves the universe list, reloaded after ``refresh_seconds``."""

    def __init__(
        self,
        engine: Any,
        runner: EngineRunner,
        *,
        refresh_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(engine, runner, refresh_seconds=refresh_seconds, clock=clock)
        self._stocks: tuple[list[StockInfo], bytes, float] | None = None

    async def stocks(self) -> tuple[list[StockInfo], bytes]:
        cached = self._stocks
        if cached is not None and self._clock() - cached[2] < self._refresh_seconds:
            return cached[0], cached[1]
        return await self._flight.run("stocks", self._load)

    async def _load(self) -> tuple[list[StockInfo], bytes]:
        from clstock_http.schemas import StockList

        stocks = await self._runner.run(self._engine.stocks)
        body = StockList(count=len(stocks), stocks=stocks).model_dump_json().encode()
        self._stocks = (stocks, body, self._clock())
        return stocks, body

    def clear(self) -> int:
        dropped = 1 if self._stocks is not None else 0
        self._stocks = None
        return dropped
