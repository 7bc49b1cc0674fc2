"""Ranking and portfolio statistics of a backtest."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

TRADING_DAYS_PER_YEAR = 252


def rank_ic_by_group(
    groups: np.ndarray, predictions: np.ndarray, outcomes: np.ndarray, *, min_count: int = 5
) -> pd.Series:
    """Spearman rank correlation of predictions and outcomes within each group (e.g. date).

    Rows with a missing value are left out. A group with fewer than
    ``min_count`` rows, or in which either side is constant, gets NaN.
    """
    frame = pd.DataFrame({"group": groups, "x": predictions, "y": outcomes}).dropna()
    ranks = frame.groupby("group")[["x", "y"]].rank()
    ranks["group"] = frame["group"]
    ranks["xy"] = ranks["x"] * ranks["y"]
    ranks["xx"] = ranks["x"] ** 2
    ranks["yy"] = ranks["y"] ** 2

    sums = ranks.groupby("group").agg(
        n=("x", "size"),
        x=("x", "sum"),
        y=("y", "sum"),
        xy=("xy", "sum"),
        xx=("xx", "sum"),
        yy=("yy", "sum"),
    )
    n = sums["n"].astype(float)
    covariance = sums["xy"] - sums["x"] * sums["y"] / n
    variance_x = sums["xx"] - sums["x"] ** 2 / n
    variance_y = sums["yy"] - sums["y"] ** 2 / n
    with np.errstate(divide="ignore", invalid="ignore"):
        correlation = covariance / np.sqrt(variance_x * variance_y)

    # Ranks are small integers or halves, so a constant side gives an exact 0
    # variance; a tiny tolerance guards the sums of larger groups.
    degenerate = (variance_x <= 1e-9 * n) | (variance_y <= 1e-9 * n) | (n < min_count)
    return correlation.mask(degenerate).rename("rank_ic")


def t_statistic(values: pd.Series | np.ndarray, *, lags: int = 0) -> float:
    """Mean divided by its standard error; NaN with fewer than two values.

    With ``lags = 0`` the standard error assumes independent values. Values
    measured over overlapping holding periods are autocorrelated; pass the
    overlap in steps as ``lags`` to use the Newey-West (Bartlett kernel)
    standard error instead, which does not overstate significance.
    """
    clean = pd.Series(values, dtype="float64").dropna().to_numpy()
    n = len(clean)
    if n < 2:
        return math.nan
    if lags <= 0:
        spread = float(clean.std(ddof=1))
        return math.nan if spread == 0 else float(clean.mean() / (spread / math.sqrt(n)))

    deviations = clean - clean.mean()
    variance = float(deviations @ deviations) / n
    for lag in range(1, min(lags, n - 1) + 1):
        autocovariance = float(deviations[lag:] @ deviations[:-lag]) / n
        variance += 2 * (1 - lag / (lags + 1)) * autocovariance
    if variance <= 0:
        return math.nan
    return float(clean.mean() / math.sqrt(variance / n))


def annualized_return(daily_returns: pd.Series) -> float:
    """Compound annual growth rate of a daily return series."""
    if len(daily_returns) == 0:
        return math.nan
    growth = float((1 + daily_returns).prod())
    if growth <= 0:
        return -1.0
    return growth ** (TRADING_DAYS_PER_YEAR / len(daily_returns)) - 1


def annualized_volatility(daily_returns: pd.Series) -> float:
    """Standard deviation of daily returns scaled by the square root of 252."""
    if len(daily_returns) < 2:
        return math.nan
    return float(daily_returns.std(ddof=1) * math.sqrt(TRADING_DAYS_PER_YEAR))


def max_drawdown(equity: pd.Series) -> float:
    """Largest fall from a running peak, as a negative fraction (0 when none)."""
    if len(equity) == 0:
        return math.nan
    peaks = equity.cummax()
    return float((equity / peaks - 1).min())
