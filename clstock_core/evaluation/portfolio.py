"""Equal-weighted buy-and-hold portfolios between rebalances, with transaction costs.

Prices are dividend- and split-adjusted (``adj_close / close`` applied to the
open) when the panel has ``adj_close``. A position is bought at the open of
the session after the rebalance date and sold at the open of the session
after the next rebalance date; the last one is sold at the close of its
final holding day. A stock without a bar on the entry session cannot be
bought, and its share of the portfolio stays in cash. A stock that stops
trading keeps its last close.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from clstock_core.prices import PricePanel


@dataclass
class PriceGrid:
    """Adjusted session x symbol prices of a whole panel."""

    sessions: pd.DatetimeIndex
    symbols: pd.Index
    open: np.ndarray  # NaN where the symbol has no bar
    close: np.ndarray  # forward-filled after the first bar
    exit_price: np.ndarray  # open, else the previous close

    @classmethod
    def from_panel(cls, panel: PricePanel) -> PriceGrid:
        frame = panel.frame
        factor = frame["adj_close"] / frame["close"] if "adj_close" in frame.columns else 1.0
        adjusted = pd.DataFrame(
            {
                "symbol": frame["symbol"],
                "date": frame["date"],
                "open": frame["open"] * factor,
                "close": frame["close"] * factor,
            }
        )
        open_ = adjusted.pivot(index="date", columns="symbol", values="open").sort_index()
        close = (
            adjusted.pivot(index="date", columns="symbol", values="close")
            .reindex(open_.index)
            .ffill()
        )
        exit_price = open_.fillna(close.shift(1))
        return cls(
            sessions=pd.DatetimeIndex(open_.index),
            symbols=pd.Index(open_.columns.astype(str)),
            open=open_.to_numpy(dtype="float64"),
            close=close.to_numpy(dtype="float64"),
            exit_price=exit_price.to_numpy(dtype="float64"),
        )

    def session_index(self, date: pd.Timestamp) -> int:
        return int(self.sessions.get_loc(date))

    def columns(self, symbols: list[str] | np.ndarray) -> np.ndarray:
        """Column positions of ``symbols`` (which must all be in the grid)."""
        return np.asarray(self.symbols.get_indexer(symbols), dtype=np.int64)

    def forward_returns(self, entry: int, holding_days: int) -> np.ndarray:
        """Per symbol: open of session ``entry`` to the close ``holding_days`` sessions later.

        NaN where the symbol has no bar on the entry session.
        """
        last = min(entry + holding_days - 1, len(self.sessions) - 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.close[last] / self.open[entry] - 1


@dataclass(frozen=True)
class Holding:
    """One portfolio between two rebalances: equal weights on ``columns``.

    Bought at the open of session ``entry``; marked at each close before
    session ``end``. Sold at the open of ``end`` when ``sell_at_open``, else at
    the close of ``end - 1``.
    """

    entry: int
    end: int
    columns: np.ndarray
    sell_at_open: bool


@dataclass
class PortfolioPath:
    """Daily returns after costs, and what each rebalance traded."""

    daily_returns: pd.Series
    turnover: list[float] = field(default_factory=list)  # one-way, fraction of the portfolio
    costs: list[float] = field(default_factory=list)  # fraction of equity paid at each rebalance
    period_returns: list[float] = field(default_factory=list)  # net of that rebalance's cost


def simulate(grid: PriceGrid, holdings: list[Holding], cost_rate: float) -> PortfolioPath:
    """Run the holdings one after another and charge ``cost_rate`` per unit of traded value.

    Turnover counts a switch between stocks and cash too, so the first
    rebalance (buying from cash) has turnover 1. The final sale is charged
    to the last day's return.
    """
    path = PortfolioPath(daily_returns=pd.Series(dtype="float64"))
    equity = 1.0
    marks: list[float] = []
    dates: list[pd.Timestamp] = []
    previous: dict[int, float] = {}

    for holding in holdings:
        weights = _target_weights(grid, holding)
        traded = _traded_value(previous, weights)
        cost = cost_rate * traded
        turnover = 0.5 * (traded + abs((1 - sum(weights.values())) - (1 - sum(previous.values()))))
        equity *= 1 - cost
        start_equity = equity

        values, end_value, previous = _hold(grid, holding, weights)
        marks.extend(start_equity * values)
        dates.extend(grid.sessions[holding.entry : holding.end])
        equity = start_equity * end_value

        path.turnover.append(turnover)
        path.costs.append(cost)
        path.period_returns.append(equity / (start_equity / (1 - cost)) - 1)

    if marks:
        final_cost = cost_rate * sum(previous.values())
        marks[-1] *= 1 - final_cost
        path.costs[-1] += final_cost
        path.period_returns[-1] = (1 + path.period_returns[-1]) * (1 - final_cost) - 1
        equity_curve = pd.Series(marks, index=pd.DatetimeIndex(dates))
        path.daily_returns = equity_curve / equity_curve.shift(1, fill_value=1.0) - 1
    return path


def _target_weights(grid: PriceGrid, holding: Holding) -> dict[int, float]:
    """Equal weights on the columns that can be bought at the entry open; the rest is cash."""
    if len(holding.columns) == 0:
        return {}
    share = 1 / len(holding.columns)
    tradable = np.isfinite(grid.open[holding.entry, holding.columns])
    return {int(column): share for column in holding.columns[tradable]}


def _traded_value(before: dict[int, float], after: dict[int, float]) -> float:
    columns = before.keys() | after.keys()
    return float(sum(abs(after.get(c, 0.0) - before.get(c, 0.0)) for c in columns))


def _hold(
    grid: PriceGrid, holding: Holding, weights: dict[int, float]
) -> tuple[np.ndarray, float, dict[int, float]]:
    """Relative portfolio value at each close, at the sale, and the weights at the sale."""
    columns = np.fromiter(weights.keys(), dtype=np.int64, count=len(weights))
    share = np.fromiter(weights.values(), dtype="float64", count=len(weights))
    cash = 1 - share.sum()
    base = grid.open[holding.entry, columns]

    relative = grid.close[holding.entry : holding.end, columns] / base
    values = relative @ share + cash
    if holding.sell_at_open:
        final = grid.exit_price[holding.end, columns] / base
    else:
        final = relative[-1] if len(relative) else np.ones(len(columns))
    end_value = float(final @ share + cash)

    drifted = {
        int(c): float(w * f / end_value) for c, w, f in zip(columns, share, final, strict=True)
    }
    return values, end_value, drifted
