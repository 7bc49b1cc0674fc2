"""Rankings a predictor must beat: 12-1 momentum, 60-day volatility and a seeded random order.

All three follow the :class:`~clstock_core.roles.Predictor` protocol, so the
walk-forward evaluation runs them exactly like a configured predictor.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from clstock_core.prices import PricePanel
from clstock_core.roles import Prediction

#: 12-1 momentum looks 250 bars back and skips the latest 20.
MOMENTUM_LOOKBACK = 250
MOMENTUM_SKIP = 20
VOLATILITY_WINDOW = 60


class MomentumPredictor:
    """Ranks by the return from 250 to 20 bars ago (about 12 months minus the last one).

    Uses adjusted closes when the panel has them, so dividends count. The
    score is the percentile rank of that return within the panel.
    """

    name = "momentum_12_1"

    def predict(self, panel: PricePanel) -> Prediction:
        column = "adj_close" if "adj_close" in panel.frame.columns else "close"
        closes = panel.tail_matrix([column], MOMENTUM_LOOKBACK + 1)[column]
        with np.errstate(divide="ignore", invalid="ignore"):
            momentum = closes[-1 - MOMENTUM_SKIP] / closes[0] - 1

        symbols = np.asarray(panel.symbols, dtype=object)
        known = np.isfinite(momentum)
        values = pd.Series(momentum[known], index=symbols[known])
        scores = pd.DataFrame(
            {"score": values.rank(pct=True) * 100, "confidence": 0.5, "momentum": values}
        )
        failures = {
            str(
                symbol
            ): f"insufficient history: 12-1 momentum needs {MOMENTUM_LOOKBACK + 1} trading days"
            for symbol in symbols[~known]
        }
        return Prediction(scores=scores, failures=failures)


class VolatilityPredictor:
    """Ranks by the standard deviation of the last 60 daily log returns, most volatile first.

    It shows how much of a strategy's result a plain volatility tilt
    explains. On stocks chosen with hindsight (e.g. today's most traded
    ones), volatile stocks look like winners, and a predictor that merely
    picks volatile stocks matches this baseline.
    """

    name = "volatility_60"

    def predict(self, panel: PricePanel) -> Prediction:
        column = "adj_close" if "adj_close" in panel.frame.columns else "close"
        closes = panel.tail_matrix([column], VOLATILITY_WINDOW + 1)[column]
        with np.errstate(divide="ignore", invalid="ignore"):
            volatility = np.std(np.diff(np.log(closes), axis=0), axis=0, ddof=1)

        symbols = np.asarray(panel.symbols, dtype=object)
        known = np.isfinite(volatility)
        values = pd.Series(volatility[known], index=symbols[known])
        scores = pd.DataFrame(
            {"score": values.rank(pct=True) * 100, "confidence": 0.5, "volatility": values}
        )
        failures = {
            str(
                symbol
            ): f"insufficient history: 60-day volatility needs {VOLATILITY_WINDOW + 1} trading days"
            for symbol in symbols[~known]
        }
        return Prediction(scores=scores, failures=failures)


class RandomPredictor:
    """Scores uniformly at random, seeded by ``seed`` and the panel's last date.

    The same seed and date always give the same order, whatever ran before.
    """

    name = "random"

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def predict(self, panel: PricePanel) -> Prediction:
        as_of = panel.as_of
        day = as_of.toordinal() if as_of is not None else 0
        rng = np.random.default_rng([self.seed, day])
        scores = pd.DataFrame(
            {"score": rng.random(len(panel)) * 100, "confidence": 0.0},
            index=pd.Index(panel.symbols),
        )
        return Prediction(scores=scores)
