"""Walk-forward evaluation of predictors, with no look-ahead.

At each rebalance date every strategy receives only the bars known at that
day's close (:meth:`PricePanel.until`) and only the stocks that traded that
day. A trainable predictor is retrained on that same past data on its
schedule. The top N stocks are bought equal-weighted at the next session's
open; the outcome of every stock is measured over the holding period for
the rank statistics.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from clstock_core.errors import ClStockError, ShutdownRequested
from clstock_core.evaluation.baselines import (
    MomentumPredictor,
    RandomPredictor,
    VolatilityPredictor,
)
from clstock_core.evaluation.metrics import (
    annualized_return,
    annualized_volatility,
    max_drawdown,
    rank_ic_by_group,
    t_statistic,
)
from clstock_core.evaluation.portfolio import Holding, PriceGrid, simulate
from clstock_core.evaluation.schedule import (
    Frequency,
    RetrainFrequency,
    rebalance_dates,
    retrain_dates,
)
from clstock_core.prices import PricePanel
from clstock_core.roles import TrainablePredictor

logger = logging.getLogger(__name__)

UNIVERSE = "equal_weight_universe"

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class EvaluationSettings:
    """Evaluation period, portfolio size, schedules and trading costs."""

    start: dt.date
    end: dt.date
    top: int = 10
    rebalance: Frequency = "monthly"
    retrain: RetrainFrequency = "yearly"
    holding_days: int = 20
    #: Cost per unit of traded value, per side, in basis points.
    cost_bps: float = 10.0
    seed: int = 0


@dataclass
class PeriodRecord:
    """One strategy at one rebalance date."""

    date: dt.date
    eligible: int
    scored: int
    rank_ic: float
    top_return: float
    universe_return: float
    hits: int
    picks: list[str]
    turnover: float = math.nan
    cost: float = math.nan
    period_return: float = math.nan
    error: str | None = None


@dataclass
class StrategyResult:
    """Every period of one strategy, its daily returns and summary metrics."""

    name: str
    periods: list[PeriodRecord]
    daily_returns: pd.Series = field(default_factory=lambda: pd.Series(dtype="float64"))
    metrics: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass
class EvaluationResult:
    settings: EvaluationSettings
    symbols: int
    rebalance_dates: list[dt.date]
    retrain_dates: list[dt.date]
    strategies: list[StrategyResult]


@dataclass
class _Strategy:
    name: str
    predictor: Any
    trainable: bool
    active: Any = None
    result: StrategyResult | None = None
    columns: list[np.ndarray] = field(default_factory=list)


def evaluate(
    panel: PricePanel,
    predictors: Sequence[tuple[str, Any]],
    settings: EvaluationSettings,
    *,
    progress: Progress | None = None,
    check: Callable[[], None] | None = None,
) -> EvaluationResult:
    """Evaluate ``predictors`` and the baselines on ``panel`` between the settings' dates.

    ``check`` is called before each rebalance date and may raise to stop
    (e.g. :class:`ShutdownRequested`).
    """
    grid = PriceGrid.from_panel(panel)
    dates = rebalance_dates(
        grid.sessions, settings.start, settings.end, settings.rebalance, settings.holding_days
    )
    if len(dates) == 0:
        span = (
            f"{grid.sessions[0].date()} to {grid.sessions[-1].date()}"
            if len(grid.sessions)
            else "none"
        )
        raise ClStockError(
            f"no {settings.rebalance} rebalance date between {settings.start} and {settings.end} "
            f"is followed by {settings.holding_days} sessions of data (data: {span}); "
            f"widen --start/--end"
        )
    retrains = retrain_dates(dates, settings.retrain)

    strategies = [
        _Strategy(name, predictor, isinstance(predictor, TrainablePredictor))
        for name, predictor in predictors
    ]
    strategies.append(_Strategy("momentum_12_1", MomentumPredictor(), False))
    strategies.append(_Strategy("volatility_60", VolatilityPredictor(), False))
    strategies.append(_Strategy("random", RandomPredictor(settings.seed), False))
    for strategy in strategies:
        strategy.result = StrategyResult(strategy.name, [])
    universe = StrategyResult(UNIVERSE, [])
    universe_columns: list[np.ndarray] = []

    for step, date in enumerate(dates):
        if check:
            check()
        known = panel.until(date)
        eligible = [symbol for symbol, last in known.last_dates.items() if last == date]
        visible = known.subset(eligible)
        entry = grid.session_index(date) + 1
        forward = pd.Series(grid.forward_returns(entry, settings.holding_days), index=grid.symbols)
        outcomes = forward.reindex(eligible)

        for strategy in strategies:
            if strategy.trainable and (date in retrains or strategy.active is None):
                _retrain(strategy, known, date)
            elif not strategy.trainable:
                strategy.active = strategy.predictor
            _score_period(strategy, visible, date, outcomes, grid, settings)

        universe.periods.append(_universe_record(date, outcomes))
        universe_columns.append(grid.columns(eligible))
        if progress:
            progress(step + 1, len(dates))

    cost_rate = settings.cost_bps / 10_000
    lags = _overlap_lags(grid, dates, settings.holding_days)
    results = []
    for strategy in strategies:
        assert strategy.result is not None
        _finish(strategy.result, strategy.columns, grid, dates, settings, cost_rate, lags)
        results.append(strategy.result)
    _finish(universe, universe_columns, grid, dates, settings, cost_rate, lags)
    results.append(universe)

    return EvaluationResult(
        settings=settings,
        symbols=len(panel),
        rebalance_dates=[d.date() for d in dates],
        retrain_dates=sorted(d.date() for d in retrains),
        strategies=results,
    )


def _retrain(strategy: _Strategy, known: PricePanel, date: pd.Timestamp) -> None:
    assert strategy.result is not None
    started = time.perf_counter()
    try:
        strategy.active = strategy.predictor.trained_on(known)
    except ShutdownRequested:
        raise
    except ClStockError as error:
        # Keep the previous model, if any. The strategy is then scored with a
        # model older than its schedule, and the warning records that.
        logger.warning(
            "retraining %r on data up to %s failed: %s", strategy.name, date.date(), error
        )
    strategy.result.seconds += time.perf_counter() - started
    logger.info(
        "retrained %r on data up to %s in %.1f s",
        strategy.name,
        date.date(),
        time.perf_counter() - started,
    )


def _score_period(
    strategy: _Strategy,
    visible: PricePanel,
    date: pd.Timestamp,
    outcomes: pd.Series,
    grid: PriceGrid,
    settings: EvaluationSettings,
) -> None:
    assert strategy.result is not None
    started = time.perf_counter()
    scores, error = _scores(strategy, visible)
    strategy.result.seconds += time.perf_counter() - started

    picks = list(scores.sort_values(ascending=False, kind="stable").index[: settings.top])
    strategy.columns.append(grid.columns(picks))

    known = outcomes.dropna()
    universe_mean = float(known.mean()) if len(known) else math.nan
    pick_outcomes = outcomes.reindex(picks).dropna()
    ic = rank_ic_by_group(
        np.zeros(len(scores)), scores.to_numpy(), outcomes.reindex(scores.index).to_numpy()
    )
    strategy.result.periods.append(
        PeriodRecord(
            date=date.date(),
            eligible=len(outcomes),
            scored=len(scores),
            rank_ic=float(ic.iloc[0]) if len(ic) else math.nan,
            top_return=float(pick_outcomes.mean()) if len(pick_outcomes) else math.nan,
            universe_return=universe_mean,
            hits=int((pick_outcomes > universe_mean).sum()),
            picks=picks,
            error=error,
        )
    )


def _scores(strategy: _Strategy, visible: PricePanel) -> tuple[pd.Series, str | None]:
    """Return the ranking values of the current predictor, or empty values and the error."""
    if strategy.active is None:
        return pd.Series(dtype="float64"), "no trained model"
    try:
        prediction = strategy.active.predict(visible)
    except ShutdownRequested:
        raise
    except ClStockError as error:
        logger.warning("%s could not score %s: %s", strategy.name, visible.as_of, error)
        return pd.Series(dtype="float64"), str(error)

    frame = prediction.scores
    # The expected return is finer-grained than the 0-100 score, which may be
    # clipped; both give the same order where the score is not clipped.
    column = "expected_return" if "expected_return" in frame.columns else "score"
    values = pd.to_numeric(frame[column], errors="coerce").dropna()
    return values.sort_index(), None


def _universe_record(date: pd.Timestamp, outcomes: pd.Series) -> PeriodRecord:
    known = outcomes.dropna()
    mean = float(known.mean()) if len(known) else math.nan
    return PeriodRecord(
        date=date.date(),
        eligible=len(outcomes),
        scored=len(known),
        rank_ic=math.nan,
        top_return=mean,
        universe_return=mean,
        hits=0,
        picks=[],
    )


def _finish(
    result: StrategyResult,
    columns: list[np.ndarray],
    grid: PriceGrid,
    dates: pd.DatetimeIndex,
    settings: EvaluationSettings,
    cost_rate: float,
    lags: int,
) -> None:
    """Simulate the portfolio and compute the summary metrics."""
    holdings = _holdings(grid, dates, columns, settings.holding_days)
    path = simulate(grid, holdings, cost_rate)
    for record, turnover, cost, period_return in zip(
        result.periods, path.turnover, path.costs, path.period_returns, strict=True
    ):
        record.turnover, record.cost, record.period_return = turnover, cost, period_return
    result.daily_returns = path.daily_returns
    result.metrics = summarize(result, lags, is_universe=result.name == UNIVERSE)


def _holdings(
    grid: PriceGrid, dates: pd.DatetimeIndex, columns: list[np.ndarray], holding_days: int
) -> list[Holding]:
    entries = [grid.session_index(date) + 1 for date in dates]
    holdings = []
    for index, entry in enumerate(entries):
        if index + 1 < len(entries):
            holdings.append(Holding(entry, entries[index + 1], columns[index], sell_at_open=True))
        else:
            end = min(entry + holding_days, len(grid.sessions))
            holdings.append(Holding(entry, end, columns[index], sell_at_open=False))
    return holdings


def _overlap_lags(grid: PriceGrid, dates: pd.DatetimeIndex, holding_days: int) -> int:
    """Rebalances whose holding periods overlap the next one's, for the Newey-West t-statistic."""
    if len(dates) < 2:
        return 0
    spacing = float(np.median(np.diff([grid.session_index(date) for date in dates])))
    return max(0, math.ceil(holding_days / spacing) - 1)


def summarize(result: StrategyResult, lags: int, *, is_universe: bool = False) -> dict[str, float]:
    """Rank and portfolio metrics of one strategy."""
    periods = result.periods
    ic = pd.Series([p.rank_ic for p in periods], dtype="float64")
    excess = pd.Series([p.top_return - p.universe_return for p in periods], dtype="float64")
    picks = sum(len(p.picks) for p in periods)
    hits = sum(p.hits for p in periods)
    turnover = [p.turnover for p in periods[1:]]
    daily = result.daily_returns
    equity = (1 + daily).cumprod()

    return {
        "rebalances": float(len(periods)),
        "failed_rebalances": float(sum(p.error is not None for p in periods)),
        "rank_ic_mean": math.nan if is_universe else float(ic.mean()),
        "rank_ic_t": math.nan if is_universe else t_statistic(ic, lags=lags),
        "top_minus_universe": math.nan if is_universe else float(excess.mean()),
        "top_minus_universe_t": math.nan if is_universe else t_statistic(excess, lags=lags),
        "hit_rate": math.nan if is_universe or picks == 0 else hits / picks,
        "annual_return": annualized_return(daily),
        "annual_volatility": annualized_volatility(daily),
        "max_drawdown": max_drawdown(equity),
        "turnover": float(np.mean(turnover)) if turnover else math.nan,
        "total_return": float(equity.iloc[-1] - 1) if len(equity) else math.nan,
        "seconds": result.seconds,
    }
