"""The walk-forward evaluation engine: schedule, portfolio arithmetic, metrics, no look-ahead."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from clstock_core.cli.main import main
from clstock_core.errors import ClStockError, ShutdownRequested
from clstock_core.evaluation import EvaluationSettings, evaluate
from clstock_core.evaluation.baselines import MomentumPredictor, VolatilityPredictor
from clstock_core.evaluation.metrics import (
    annualized_return,
    annualized_volatility,
    max_drawdown,
    rank_ic_by_group,
    t_statistic,
)
from clstock_core.evaluation.portfolio import Holding, PriceGrid, simulate
from clstock_core.evaluation.report import render_table, write_report
from clstock_core.evaluation.schedule import rebalance_dates, retrain_dates
from clstock_core.prices import PricePanel
from clstock_core.roles import Prediction
from tests.ml.synthetic import planted_frame

SETTINGS = EvaluationSettings(start=dt.date(2019, 9, 1), end=dt.date(2020, 10, 31), top=5)


# -- schedule -----------------------------------------------------------------


def test_rebalance_on_last_session_of_month():
    sessions = pd.bdate_range("2020-01-01", "2020-06-30")
    dates = rebalance_dates(sessions, dt.date(2020, 1, 1), dt.date(2020, 12, 31), "monthly", 20)
    # June's last session has no 20 sessions after it.
    assert [d.date() for d in dates] == [
        dt.date(2020, 1, 31),
        dt.date(2020, 2, 28),
        dt.date(2020, 3, 31),
        dt.date(2020, 4, 30),
        dt.date(2020, 5, 29),
    ]


def test_rebalance_dates_respect_range():
    sessions = pd.bdate_range("2020-01-01", "2020-12-31")
    dates = rebalance_dates(sessions, dt.date(2020, 3, 1), dt.date(2020, 5, 15), "monthly", 5)
    assert [d.date() for d in dates] == [dt.date(2020, 3, 31), dt.date(2020, 4, 30)]


def test_retrain_yearly_and_never():
    dates = pd.DatetimeIndex(["2019-11-29", "2019-12-31", "2020-01-31", "2020-02-28", "2021-01-29"])
    assert retrain_dates(dates, "yearly") == {dates[0], dates[2], dates[4]}
    assert retrain_dates(dates, "never") == {dates[0]}
    assert retrain_dates(dates, "monthly") == set(dates)


# -- portfolio arithmetic ---------------------------------------------------------


def grid_of(opens: dict[str, list[float]], closes: dict[str, list[float]]) -> PriceGrid:
    sessions = pd.bdate_range("2024-01-01", periods=len(next(iter(opens.values()))))
    rows = []
    for symbol in opens:
        for day, (o, c) in enumerate(zip(opens[symbol], closes[symbol], strict=True)):
            if not math.isnan(o):
                rows.append(
                    {
                        "symbol": symbol,
                        "date": sessions[day],
                        "open": o,
                        "high": max(o, c),
                        "low": min(o, c),
                        "close": c,
                        "volume": 1000,
                    }
                )
    return PriceGrid.from_panel(PricePanel.from_long(pd.DataFrame(rows)))


def test_simulate_matches_hand_computation():
    grid = grid_of(
        {"A.T": [10, 10, 11, 12, 12, 13], "B.T": [20, 20, 22, 18, 18, 18]},
        {"A.T": [10, 11, 12, 12, 13, 14], "B.T": [20, 21, 20, 18, 19, 18]},
    )
    a, b = grid.columns(["A.T", "B.T"])
    holdings = [
        Holding(entry=1, end=3, columns=np.array([a, b]), sell_at_open=True),
        Holding(entry=3, end=6, columns=np.array([a]), sell_at_open=False),
    ]
    path = simulate(grid, holdings, cost_rate=0.001)

    # Period 1: buy A at 10 and B at 20 with 1 yen, paying 0.1%.
    start = 1 - 0.001
    day1 = start * (11 / 10 + 21 / 20) / 2
    day2 = start * (12 / 10 + 20 / 20) / 2
    end1 = start * (12 / 10 + 18 / 20) / 2
    # At the switch A is 1.2 / 2.1 of the portfolio and B 0.9 / 2.1: selling
    # B and buying A trades 2 x 0.9 / 2.1 of it.
    traded = 2 * 0.9 / 2.1
    start2 = end1 * (1 - 0.001 * traded)
    day3, day4 = start2 * 12 / 12, start2 * 13 / 12
    # The last period ends with the sale of A at the close of day 5.
    day5 = start2 * 14 / 12 * (1 - 0.001)

    expected = pd.Series([day1, day2, day3, day4, day5], index=grid.sessions[1:6])
    equity = (1 + path.daily_returns).cumprod()
    pd.testing.assert_series_equal(equity, expected, check_names=False, check_freq=False)
    assert path.turnover == pytest.approx([1.0, 0.9 / 2.1])
    assert path.costs == pytest.approx([0.001, 0.001 * traded + 0.001])


def test_missing_entry_bar_keeps_share_in_cash():
    nan = math.nan
    grid = grid_of(
        {"A.T": [10, 10, 10, 10], "B.T": [20, nan, 22, 22]},
        {"A.T": [10, 12, 12, 12], "B.T": [20, nan, 22, 22]},
    )
    columns = grid.columns(["A.T", "B.T"])
    path = simulate(
        grid, [Holding(entry=1, end=3, columns=columns, sell_at_open=False)], cost_rate=0.0
    )
    equity = (1 + path.daily_returns).cumprod()
    # Half in A (up 20%), half in cash.
    assert equity.iloc[-1] == pytest.approx(1.1)
    assert path.turnover == pytest.approx([0.5])


def test_forward_returns_from_next_open():
    grid = grid_of({"A.T": [10, 11, 12, 13]}, {"A.T": [10.5, 11.5, 12.5, 13.5]})
    assert grid.forward_returns(1, 2)[0] == pytest.approx(12.5 / 11 - 1)


# -- metrics ------------------------------------------------------------------------


def test_rank_ic_matches_scipy():
    rng = np.random.default_rng(1)
    groups = np.repeat([1, 2, 3], 30)
    x = rng.normal(size=90)
    y = x + rng.normal(size=90)
    x[5] = np.nan
    ic = rank_ic_by_group(groups, x, y)
    for group in (1, 2, 3):
        mask = (groups == group) & np.isfinite(x)
        assert ic[group] == pytest.approx(spearmanr(x[mask], y[mask]).statistic)


def test_rank_ic_with_ties_and_constant_group():
    groups = np.array([1] * 6 + [2] * 6)
    x = np.array([1, 1, 2, 3, 3, 4, 5, 5, 5, 5, 5, 5], dtype=float)
    y = np.array([1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 6], dtype=float)
    ic = rank_ic_by_group(groups, x, y)
    assert ic[1] == pytest.approx(spearmanr(x[:6], y[:6]).statistic)
    assert math.isnan(ic[2])


def test_t_statistic_with_and_without_overlap():
    values = pd.Series([0.1, 0.2, 0.0, 0.3, 0.1])
    assert t_statistic(values) == pytest.approx(values.mean() / (values.std() / math.sqrt(5)))
    assert math.isnan(t_statistic([0.1]))

    # A persistent series: overlap-aware errors are larger, so t is smaller.
    rng = np.random.default_rng(0)
    persistent = pd.Series(np.convolve(rng.normal(0.05, 1, 400), np.ones(10), mode="valid"))
    assert abs(t_statistic(persistent, lags=9)) < abs(t_statistic(persistent)) / 2


def test_drawdown_and_annualization():
    assert max_drawdown(pd.Series([1.0, 1.2, 0.9, 1.3])) == pytest.approx(-0.25)
    daily = pd.Series([0.001] * 252)
    assert annualized_return(daily) == pytest.approx(1.001**252 - 1)
    assert annualized_volatility(daily) == pytest.approx(0.0)


# -- walk-forward -------------------------------------------------------------------


class SpyPredictor:
    """Records what it is shown and scores by the last close."""

    name = "spy"

    def __init__(self, calls: list) -> None:
        self.calls = calls

    def predict(self, panel: PricePanel) -> Prediction:
        last_dates = panel.last_dates
        self.calls.append(
            (panel.as_of, panel.frame["date"].max(), set(last_dates), set(last_dates.unique()))
        )
        close = panel.frame.groupby("symbol")["close"].last()
        return Prediction(scores=pd.DataFrame({"score": close.rank(pct=True) * 100}))


class TrainableSpy(SpyPredictor):
    def __init__(self, calls: list, trainings: list) -> None:
        super().__init__(calls)
        self.trainings = trainings

    def trained_on(self, panel: PricePanel) -> SpyPredictor:
        self.trainings.append(panel.frame["date"].max())
        return SpyPredictor(self.calls)


class OraclePredictor:
    """Cheats on purpose: scores by the forward return the evaluation will measure."""

    name = "oracle"

    def __init__(self, full: PricePanel, holding_days: int) -> None:
        self.grid = PriceGrid.from_panel(full)
        self.holding_days = holding_days

    def predict(self, panel: PricePanel) -> Prediction:
        entry = self.grid.session_index(pd.Timestamp(panel.as_of)) + 1
        forward = pd.Series(
            self.grid.forward_returns(entry, self.holding_days), index=self.grid.symbols
        )
        return Prediction(scores=pd.DataFrame({"score": forward.reindex(panel.symbols)}).dropna())


def test_predictors_see_only_past_bars(panel):
    calls, trainings = [], []
    result = evaluate(panel, [("spy", TrainableSpy(calls, trainings))], SETTINGS)

    dates = result.rebalance_dates
    assert len(calls) == len(dates)
    for (as_of, latest, _, last_dates), date in zip(calls, dates, strict=True):
        assert as_of == date
        assert latest.date() == date
        # Only stocks that traded on the rebalance date are ranked.
        assert last_dates == {pd.Timestamp(date)}
    assert [t.date() for t in trainings] == result.retrain_dates
    assert result.retrain_dates == [dates[0], dt.date(2020, 1, 31)]


def test_oracle_gets_perfect_rank_ic(panel):
    oracle = OraclePredictor(panel, SETTINGS.holding_days)
    result = evaluate(panel, [("oracle", oracle)], SETTINGS)
    metrics = {s.name: s.metrics for s in result.strategies}

    assert metrics["oracle"]["rank_ic_mean"] == pytest.approx(1.0)
    assert metrics["oracle"]["top_minus_universe"] > 0.05
    assert metrics["oracle"]["hit_rate"] == pytest.approx(1.0)
    assert metrics["oracle"]["annual_return"] > metrics["equal_weight_universe"]["annual_return"]
    assert abs(metrics["random"]["rank_ic_mean"]) < 0.1


def test_result_lists_baselines_and_periods(panel):
    result = evaluate(panel, [], SETTINGS)
    names = [s.name for s in result.strategies]
    assert names == ["momentum_12_1", "volatility_60", "random", "equal_weight_universe"]
    universe = result.strategies[-1]
    assert len(universe.periods) == len(result.rebalance_dates)
    assert all(p.eligible == len(panel) for p in universe.periods)
    assert universe.metrics["turnover"] < 0.1
    assert math.isnan(universe.metrics["rank_ic_mean"])


def strategy(result, name):
    return next(s for s in result.strategies if s.name == name)


def test_random_baseline_is_seeded(panel):
    first = strategy(evaluate(panel, [], SETTINGS), "random")
    second = strategy(evaluate(panel, [], SETTINGS), "random")
    other = strategy(evaluate(panel, [], dataclasses.replace(SETTINGS, seed=1)), "random")
    assert [p.picks for p in first.periods] == [p.picks for p in second.periods]
    assert [p.picks for p in first.periods] != [p.picks for p in other.periods]


def test_costs_lower_returns(panel):
    free = strategy(evaluate(panel, [], dataclasses.replace(SETTINGS, cost_bps=0)), "random")
    costly = strategy(evaluate(panel, [], dataclasses.replace(SETTINGS, cost_bps=50)), "random")
    assert costly.metrics["annual_return"] < free.metrics["annual_return"]
    assert free.metrics["turnover"] == pytest.approx(costly.metrics["turnover"])


def test_no_rebalance_date_is_an_error(panel):
    late = EvaluationSettings(start=dt.date(2030, 1, 1), end=dt.date(2030, 12, 31))
    with pytest.raises(
        ClStockError, match="no monthly rebalance date between 2030-01-01 and 2030-12-31"
    ):
        evaluate(panel, [], late)


def test_stop_check_interrupts(panel):
    def stop() -> None:
        raise ShutdownRequested("SIGINT", 130)

    with pytest.raises(ShutdownRequested):
        evaluate(panel, [], SETTINGS, check=stop)


def test_volatility_baseline_ranks_volatile_first():
    frame = planted_frame(symbols=3, days=100)
    calm = frame["symbol"] == "1000.T"
    base = frame.loc[calm, "close"].iloc[0]
    for column in ("open", "high", "low", "close", "adj_close"):
        frame.loc[calm, column] = base * (1 + 0.001 * np.sin(np.arange(calm.sum())))
    prediction = VolatilityPredictor().predict(PricePanel.from_long(frame))
    volatility = prediction.scores["volatility"]
    assert volatility.idxmin() == "1000.T"
    assert prediction.scores.loc["1000.T", "score"] == pytest.approx(100 / 3)


def test_momentum_baseline_skips_last_month():
    frame = planted_frame(symbols=2, days=260)
    panel = PricePanel.from_long(frame)
    prediction = MomentumPredictor().predict(panel)
    history = panel.history("1000.T")["adj_close"]
    expected = history.iloc[-21] / history.iloc[-251] - 1
    assert prediction.scores.loc["1000.T", "momentum"] == pytest.approx(expected)
    short = MomentumPredictor().predict(PricePanel.from_long(planted_frame(symbols=2, days=200)))
    assert short.scores.empty
    assert "needs 251 trading days" in short.failures["1000.T"]


# -- report -------------------------------------------------------------------------


def test_report_files_and_table(panel, tmp_path):
    result = evaluate(panel, [], SETTINGS)
    written = write_report(
        result, tmp_path / "report", command="clstock evaluate --start 2019-09-01"
    )

    assert [path.name for path in written] == [
        "evaluation.json",
        "metrics.csv",
        "periods.csv",
        "equity.csv",
        "cumulative_returns.png",
    ]
    payload = json.loads((tmp_path / "report" / "evaluation.json").read_text(encoding="utf-8"))
    assert payload["command"] == "clstock evaluate --start 2019-09-01"
    assert payload["settings"]["top"] == 5
    universe = payload["strategies"]["equal_weight_universe"]["metrics"]
    assert universe["rank_ic_mean"] is None
    periods = (tmp_path / "report" / "periods.csv").read_text(encoding="utf-8").splitlines()
    assert len(periods) == 1 + 4 * len(result.rebalance_dates)
    equity = pd.read_csv(tmp_path / "report" / "equity.csv", index_col="date")
    assert list(equity.columns) == [s.name for s in result.strategies]

    table = render_table(result)
    assert "random" in table
    assert "volatility_60" in table
    assert f"{len(result.rebalance_dates)} monthly rebalances, 40 symbols, top 5" in table


def test_evaluate_command_on_csv_data(offline_config, tmp_path, capsys):
    report = tmp_path / "report"
    code = main(
        [
            "--config",
            str(offline_config),
            "evaluate",
            "--start",
            "2023-06-01",
            "--predictor",
            "technical",
            "--top",
            "2",
            "--report-dir",
            str(report),
            "--format",
            "json",
        ]
    )
    output = capsys.readouterr()
    assert code == 0, output.err
    payload = json.loads(output.out)
    assert list(payload["strategies"]) == [
        "technical",
        "momentum_12_1",
        "volatility_60",
        "random",
        "equal_weight_universe",
    ]
    # The data ends on 2024-02-27, 19 sessions after 2024-01-31: too few for
    # a 20-session holding period, so December is the last rebalance.
    assert payload["rebalance_dates"][0] == "2023-06-30"
    assert payload["rebalance_dates"][-1] == "2023-12-29"
    assert "--predictor technical" in payload["command"]
    assert (report / "cumulative_returns.png").is_file()
