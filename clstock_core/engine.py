"""The ranking engine shared by the CLI and the HTTP API.

It loads history for a universe (through the cache), normalizes it once,
runs the predictor chain and turns scores into recommendations.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from clstock_core.config import EngineSettings
from clstock_core.errors import (
    ClStockError,
    NoDataError,
    PredictionError,
    ShutdownRequested,
    SourceUnavailableError,
)
from clstock_core.fetching import RetryPolicy, fetch_with_retry
from clstock_core.levels import PriceContext, action_for, compute_levels
from clstock_core.lifecycle.signals import Cancellation
from clstock_core.models import RankingReport, Recommendation, SkippedSymbol, StockInfo
from clstock_core.prices import PricePanel, normalize_many
from clstock_core.prices.indicators import atr
from clstock_core.symbols import parse_symbol

logger = logging.getLogger(__name__)

Progress = Callable[[int, int], None]

#: Cache entries written under the "last known" key outlive the exact-range
#: entries so that a rate-limited source can be bridged with stale data.
LAST_KNOWN_TTL = 30 * 24 * 3600.0
HISTORY_TTL = 12 * 3600.0
CACHE_VERSION = "v1"


@dataclass
class LoadedUniverse:
    """Normalized history for a universe, and what could not be loaded."""

    panel: PricePanel
    stocks: dict[str, StockInfo]
    failures: dict[str, str] = field(default_factory=dict)
    stale: set[str] = field(default_factory=set)
    #: The error behind each entry of ``failures``, so callers can tell a
    #: retryable outage from missing data.
    errors: dict[str, ClStockError] = field(default_factory=dict)


@dataclass
class _Scored:
    score: float
    confidence: float
    rationale: list[str]
    predictor: str
    fallback_reason: str | None


class Engine:
    """Ranks a universe with the configured source, cache and predictor chain."""

    def __init__(
        self,
        *,
        source: Any,
        source_name: str,
        cache: Any,
        predictors: Sequence[Any],
        settings: EngineSettings,
        cancel: Cancellation | None = None,
    ) -> None:
        self.source = source
        self.source_name = source_name
        self.cache = cache
        self.predictors = list(predictors)
        self.settings = settings
        #: Set to stop loading between batches (e.g. on SIGINT).
        self.cancel = cancel if cancel is not None else Cancellation()
        self.retry_policy = RetryPolicy.from_settings(settings)

    # -- universe ---------------------------------------------------------

    def stocks(self) -> list[StockInfo]:
        return list(self.source.list_stocks())

    def start_date(self, today: dt.date | None = None) -> dt.date:
        today = today or dt.date.today()
        return today - dt.timedelta(days=self.settings.history_days)

    def load(
        self,
        symbols: Sequence[str] | None = None,
        *,
        start: dt.date | None = None,
        progress: Progress | None = None,
    ) -> LoadedUniverse:
        """Load and normalize history for ``symbols`` (default: the whole universe)."""
        stocks = {info.symbol: info for info in self.stocks()}
        # dict.fromkeys drops repeated symbols and keeps the order given.
        tickers = (
            list(dict.fromkeys(parse_symbol(s).ticker for s in symbols))
            if symbols
            else sorted(stocks)
        )
        start = start if start is not None else self.start_date()

        # A source that can normalize its whole store in one vectorized pass
        # (a local parquet file) skips the per-symbol cache, which would only
        # copy data that is already on local disk.
        load_panel = getattr(self.source, "load_panel", None)
        if callable(load_panel):
            return self._load_in_one_pass(load_panel, tickers, stocks, start, progress)

        histories: dict[str, pd.DataFrame] = {}
        failures: dict[str, str] = {}
        stale: set[str] = set()
        errors: dict[str, ClStockError] = {}

        missing = []
        for ticker in tickers:
            cached = self._cache_get(self._history_key(ticker, start))
            if cached is not None:
                histories[ticker] = cached
            else:
                missing.append(ticker)

        done = len(histories)
        if progress:
            progress(done, len(tickers))

        for batch_start in range(0, len(missing), self.settings.batch_size):
            self.cancel.raise_if_set()
            batch = missing[batch_start : batch_start + self.settings.batch_size]
            self._load_batch(batch, start, histories, failures, stale, errors)
            done += len(batch)
            if progress:
                progress(done, len(tickers))

        panel = PricePanel.from_histories(histories)
        return LoadedUniverse(
            panel=panel, stocks=stocks, failures=failures, stale=stale, errors=errors
        )

    def _load_in_one_pass(
        self,
        load_panel: Callable[..., PricePanel],
        tickers: list[str],
        stocks: dict[str, StockInfo],
        start: dt.date,
        progress: Progress | None,
    ) -> LoadedUniverse:
        if progress:
            progress(0, len(tickers))
        self.cancel.raise_if_set()
        panel = load_panel(tickers, start=start)
        if progress:
            progress(len(tickers), len(tickers))

        loaded = set(panel.symbols)
        errors: dict[str, ClStockError] = {
            ticker: NoDataError(ticker, "no valid daily bars")
            for ticker in tickers
            if ticker not in loaded
        }
        failures = {ticker: str(error) for ticker, error in errors.items()}
        return LoadedUniverse(panel=panel, stocks=stocks, failures=failures, errors=errors)

    def _load_batch(
        self,
        batch: list[str],
        start: dt.date,
        histories: dict[str, pd.DataFrame],
        failures: dict[str, str],
        stale: set[str],
        errors: dict[str, ClStockError],
    ) -> None:
        result = fetch_with_retry(
            self.source, batch, start=start, policy=self.retry_policy, cancel=self.cancel
        )
        fetched = {
            ticker: result.histories[ticker] for ticker in batch if ticker in result.histories
        }
        normalized, invalid = normalize_many(fetched)

        for ticker in batch:
            if ticker in normalized:
                history = normalized[ticker]
                histories[ticker] = history
                self._cache_set(self._history_key(ticker, start), history, HISTORY_TTL)
                self._cache_set(self._last_known_key(ticker), history, LAST_KNOWN_TTL)
            elif ticker in invalid:
                failures[ticker] = str(invalid[ticker])
                errors[ticker] = invalid[ticker]
            elif ticker in result.failures:
                error, reason = result.failures[ticker], result.reason(ticker)
                self._use_stale_or_fail(ticker, error, histories, failures, stale, errors, reason)
            else:
                error = NoDataError(ticker, "the source returned nothing for it")
                self._use_stale_or_fail(
                    ticker, error, histories, failures, stale, errors, str(error)
                )

    def _use_stale_or_fail(
        self,
        ticker: str,
        error: ClStockError,
        histories: dict[str, pd.DataFrame],
        failures: dict[str, str],
        stale: set[str],
        errors: dict[str, ClStockError],
        reason: str | None = None,
    ) -> None:
        retryable = getattr(error, "retryable", False)
        cached = self._cache_get(self._last_known_key(ticker)) if retryable else None
        if cached is not None:
            logger.warning(
                "%s: %s; serving the cached history up to %s",
                ticker,
                error,
                cached.index[-1].date(),
            )
            histories[ticker] = cached
            stale.add(ticker)
        else:
            failures[ticker] = reason or str(error)
            errors[ticker] = error

    # -- cache --------------------------------------------------------------

    def _tag(self, ticker: str) -> str:
        version = getattr(self.source, "version_tag", None)
        return str(version(ticker)) if callable(version) else ""

    def _history_key(self, ticker: str, start: dt.date) -> str:
        return (
            f"history:{CACHE_VERSION}:{self.source_name}:{ticker}:{start.isoformat()}:latest"
            f":1d:unadjusted:{self._tag(ticker)}"
        )

    def _last_known_key(self, ticker: str) -> str:
        return f"history-last:{CACHE_VERSION}:{self.source_name}:{ticker}:1d:unadjusted"

    def _cache_get(self, key: str) -> Any | None:
        if self.cache is None:
            return None
        return self.cache.get(key)

    def _cache_set(self, key: str, value: Any, ttl: float) -> None:
        if self.cache is not None:
            self.cache.set(key, value, ttl=ttl)

    # -- ranking ------------------------------------------------------------

    def rank(
        self,
        *,
        top: int | None = None,
        symbols: Sequence[str] | None = None,
        progress: Progress | None = None,
        universe: LoadedUniverse | None = None,
    ) -> RankingReport:
        """Rank the universe and return the best ``top`` recommendations."""
        universe = universe or self.load(symbols, progress=progress)
        self.cancel.raise_if_set()
        limit = top if top is not None else self.settings.top
        recommendations, skipped = self.recommend_all(universe, limit=limit)
        return RankingReport(
            generated_at=dt.datetime.now(dt.UTC),
            as_of=universe.panel.as_of,
            universe_size=len(universe.stocks)
            if symbols is None
            else len({parse_symbol(s) for s in symbols}),
            recommendations=recommendations[:limit],
            skipped=skipped,
        )

    def recommend_all(
        self, universe: LoadedUniverse, *, limit: int | None = None
    ) -> tuple[list[Recommendation], list[SkippedSymbol]]:
        """Build ranked recommendations for the best ``limit`` scored symbols (default: all).

        Every symbol is scored and ranked whatever ``limit`` is. Only the
        recommendation objects past ``limit`` are not built, which saves
        most of the time on a universe of thousands.
        """
        panel = universe.panel
        skipped = {ticker: reason for ticker, reason in universe.failures.items()}
        scored, chain_failures = self._run_chain(panel)
        skipped.update(chain_failures)

        contexts = price_contexts(panel)
        order = sorted(scored, key=lambda ticker: (-scored[ticker].score, ticker))
        last_dates = panel.last_dates

        ranked = []
        for ticker in order:
            if ticker in contexts:
                ranked.append(ticker)
            else:
                skipped[ticker] = "no recent price to derive levels from"

        recommendations: list[Recommendation] = []
        for ticker in ranked[:limit]:
            context = contexts[ticker]
            info = universe.stocks.get(ticker)
            recommendations.append(
                self._recommendation(
                    len(recommendations) + 1,
                    ticker,
                    info,
                    scored[ticker],
                    context,
                    pd.Timestamp(last_dates[ticker]).date(),
                    ticker in universe.stale,
                )
            )

        skipped_list = [SkippedSymbol(symbol=t, reason=r) for t, r in sorted(skipped.items())]
        return recommendations, skipped_list

    def _recommendation(
        self,
        rank: int,
        ticker: str,
        info: StockInfo | None,
        scored: _Scored,
        context: PriceContext,
        as_of: dt.date,
        stale: bool,
    ) -> Recommendation:
        action = action_for(scored.score)
        levels = compute_levels(context, action)
        return Recommendation(
            rank=rank,
            symbol=ticker,
            code=parse_symbol(ticker).code,
            company_name=info.name if info else "",
            score=round(scored.score, 2),
            action=action,
            current_price=context.close,
            entry_price=levels.entry,
            stop_loss=levels.stop_loss,
            take_profit=levels.targets,
            holding_period_days=self.settings.holding_period_days,
            confidence=round(scored.confidence, 3),
            rationale=scored.rationale,
            as_of=as_of,
            stale=stale,
            predictor=scored.predictor,
            fallback_reason=scored.fallback_reason,
        )

    def _run_chain(self, panel: PricePanel) -> tuple[dict[str, _Scored], dict[str, str]]:
        """Score with each predictor in turn; later ones serve what earlier ones could not."""
        remaining = list(panel.symbols)
        reasons: dict[str, list[str]] = {ticker: [] for ticker in remaining}
        scored: dict[str, _Scored] = {}

        for predictor in self.predictors:
            if not remaining:
                break
            name = getattr(predictor, "name", type(predictor).__name__)
            subset = panel if len(remaining) == len(panel) else panel.subset(remaining)
            prediction = self._predict(predictor, name, subset, reasons, remaining)
            if prediction is None:
                continue

            rows = _score_rows(prediction.scores)
            still_missing = []
            for ticker in remaining:
                row = rows.get(ticker)
                if row is None:
                    reason = prediction.failures.get(ticker, "no score")
                    reasons[ticker].append(f"{name}: {reason}")
                    still_missing.append(ticker)
                    continue
                earlier = "; ".join(reasons[ticker]) or None
                scored[ticker] = _Scored(
                    score=row[0],
                    confidence=row[1],
                    rationale=list(prediction.rationale.get(ticker, [])),
                    predictor=name,
                    fallback_reason=earlier,
                )
            if still_missing:
                example = still_missing[0]
                logger.info(
                    "predictor %r did not score %d of %d symbol(s), e.g. %s (%s)",
                    name,
                    len(still_missing),
                    len(remaining),
                    example,
                    reasons[example][-1],
                )
            remaining = still_missing

        failures = {
            ticker: "; ".join(reasons[ticker]) or "no predictor configured" for ticker in remaining
        }
        return scored, failures

    def _predict(
        self,
        predictor: Any,
        name: str,
        panel: PricePanel,
        reasons: dict[str, list[str]],
        remaining: list[str],
    ) -> Any | None:
        try:
            prediction = predictor.predict(panel)
            _check_prediction(prediction)
            return prediction
        # A stop request is not a predictor failure: the whole run stops.
        except ShutdownRequested:
            raise
        except ClStockError as error:
            reason = str(error)
        # A predictor plugin's bug must not abort the ranking: the engine logs
        # it with its traceback and falls back to the next predictor.
        except Exception as error:  # noqa: BLE001
            logger.exception("predictor %r failed", name)
            reason = f"internal error ({type(error).__name__})"

        logger.warning("predictor %r could not score the universe: %s", name, reason)
        for ticker in remaining:
            reasons[ticker].append(f"{name}: {reason}")
        return None

    # -- single stock -------------------------------------------------------

    def stock_history(self, symbol: str, start: dt.date | None) -> tuple[pd.DataFrame, bool]:
        """Load one stock's normalized history from ``start``, or all of it when None."""
        ticker = parse_symbol(symbol).ticker
        loaded = self.load([ticker], start=start or dt.date(1970, 1, 1))
        if ticker in loaded.failures:
            if isinstance(loaded.errors.get(ticker), SourceUnavailableError):
                raise loaded.errors[ticker]
            error = loaded.errors.get(ticker)
            if isinstance(error, NoDataError):
                raise error
            raise NoDataError(ticker, loaded.failures[ticker])
        return loaded.panel.history(ticker), ticker in loaded.stale


def _check_prediction(prediction: Any) -> None:
    """Raise PredictionError when a predictor returned something the chain cannot read."""
    scores = getattr(prediction, "scores", None)
    if not isinstance(scores, pd.DataFrame) or "score" not in scores.columns:
        raise PredictionError(
            f"invalid prediction: expected a Prediction whose scores frame has a 'score' "
            f"column, got {type(prediction).__name__}"
        )
    for column in ("score", "confidence"):
        if column in scores.columns and not pd.api.types.is_numeric_dtype(scores[column]):
            raise PredictionError(
                f"invalid prediction: the {column!r} column has dtype {scores[column].dtype}, "
                f"expected numbers"
            )
    if not scores.index.is_unique:
        duplicated = scores.index[scores.index.duplicated()].unique()[:3].tolist()
        raise PredictionError(f"invalid prediction: symbols scored twice: {duplicated}")
    for attribute in ("rationale", "failures"):
        if not isinstance(getattr(prediction, attribute, None), Mapping):
            raise PredictionError(
                f"invalid prediction: {attribute} is not a mapping of symbol to text"
            )


def _score_rows(scores: pd.DataFrame) -> dict[str, tuple[float, float]]:
    """Score (clipped to 0-100) and confidence (0-1, default 0.5) of each finite row."""
    score = scores["score"].to_numpy(dtype="float64")
    if "confidence" in scores:
        confidence = scores["confidence"].to_numpy(dtype="float64")
    else:
        confidence = np.full(len(score), 0.5)

    finite = np.isfinite(score) & np.isfinite(confidence)
    score = np.clip(score, 0.0, 100.0)
    confidence = np.clip(confidence, 0.0, 1.0)
    return {
        str(ticker): (float(score[index]), float(confidence[index]))
        for index, ticker in enumerate(scores.index)
        if finite[index]
    }


def price_contexts(panel: PricePanel) -> dict[str, PriceContext]:
    """Close, ATR, support and resistance of every symbol's latest bar."""
    if len(panel) == 0:
        return {}
    window = 80
    data = panel.tail_matrix(["high", "low", "close"], window)
    high, low, close = (pd.DataFrame(data[c]) for c in ("high", "low", "close"))
    atr_last = atr(high, low, close).iloc[-1].to_numpy()
    support = np.nanmin(data["low"][-20:], axis=0)
    resistance = np.nanmax(data["high"][-60:], axis=0)
    last_close = data["close"][-1]

    contexts = {}
    for index, ticker in enumerate(panel.symbols):
        if not math.isfinite(last_close[index]):
            continue
        contexts[ticker] = PriceContext(
            close=float(last_close[index]),
            atr=float(atr_last[index]),
            support=float(support[index]),
            resistance=float(resistance[index]),
        )
    return contexts
