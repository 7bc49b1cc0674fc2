"""Cross-sectional price momentum, scored 0-100 by percentile rank.

The classic "12-1" momentum signal (Jegadeesh and Titman, 1993) is the
return from twelve months ago to one month ago. The most recent month is
left out because one-month returns tend to reverse. Each stock's score is
its percentile among the stocks of the same panel, so the score measures
how a stock compares with the rest of the universe on the same day.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from clstock_core.prices import PricePanel
from clstock_core.roles import Prediction

#: Trading days in a month, the unit of the consistency check.
MONTH = 21
#: A percentile among fewer stocks than this carries little information, so confidence shrinks.
FULL_BREADTH = 20


class MomentumSettings(BaseModel):
    """Options of the ``[predictors.momentum]`` table."""

    model_config = ConfigDict(extra="forbid")

    lookback_days: int = Field(
        default=252,
        ge=MONTH,
        le=1260,
        description="Trading days back to the start of the formation period (252 = 12 months)",
    )
    skip_days: int = Field(
        default=21,
        ge=0,
        description="Most recent trading days left out of the return (21 = 1 month)",
    )

    @model_validator(mode="after")
    def _formation_period_long_enough(self) -> MomentumSettings:
        if self.lookback_days - self.skip_days < MONTH:
            raise ValueError(
                f"skip_days ({self.skip_days}) must be at least {MONTH} less than "
                f"lookback_days ({self.lookback_days}), so at least one month of returns remains"
            )
        return self


class MomentumPredictor:
    """Scores every stock of a panel by its lookback-to-skip return."""

    name = "momentum"

    def __init__(self, settings: MomentumSettings) -> None:
        self.settings = settings

    @classmethod
    def from_settings(cls, settings: MomentumSettings, app: object = None) -> MomentumPredictor:
        return cls(settings)

    def predict(self, panel: PricePanel) -> Prediction:
        """Score the symbols with enough history; report the others as failures."""
        if len(panel) == 0:
            return Prediction(scores=pd.DataFrame(columns=["score", "confidence"]))

        prices = formation_prices(panel, self.settings.lookback_days + 1)
        signals = momentum_signals(prices, self.settings.skip_days)
        symbols = np.asarray(panel.symbols, dtype=object)
        counts = panel.bar_counts.to_numpy()
        usable = np.isfinite(signals["momentum"])

        score = percentile_scores(signals["momentum"], usable)
        confidence = _confidence(score, signals["consistency"], int(usable.sum()))
        scores = pd.DataFrame(
            {"score": score[usable], "confidence": confidence[usable]}, index=symbols[usable]
        )

        failures = {
            str(symbols[index]): self._failure_reason(int(counts[index]))
            for index in np.flatnonzero(~usable)
        }
        rationale = self._describe(signals, score, symbols, usable)
        return Prediction(scores=scores, rationale=rationale, failures=failures)

    def _failure_reason(self, bars: int) -> str:
        needed = self.settings.lookback_days + 1
        if bars < needed:
            return f"insufficient history: {bars} trading days, at least {needed} needed"
        return "no valid price at the start or end of the momentum window"

    def _describe(
        self,
        signals: dict[str, np.ndarray],
        score: np.ndarray,
        symbols: np.ndarray,
        usable: np.ndarray,
    ) -> dict[str, list[str]]:
        """Describe the signals behind each score in words."""
        lookback, skip = self.settings.lookback_days, self.settings.skip_days
        total = int(usable.sum())
        # Position 1 is the strongest momentum; ties share the better position.
        positions = pd.Series(signals["momentum"][usable]).rank(ascending=False, method="min")

        result = {}
        for position, index in zip(positions.to_numpy(), np.flatnonzero(usable), strict=True):
            momentum = signals["momentum"][index]
            agreeing = round(signals["consistency"][index] * signals["months"])
            result[str(symbols[index])] = [
                f"return {momentum:+.1%} from {lookback} to {skip} trading days ago",
                f"momentum ranks {int(position)} of {total} (percentile {score[index]:.0f})",
                f"{agreeing} of {signals['months']} monthly returns in that window agree in sign",
            ]
        return result


def formation_prices(panel: PricePanel, window: int) -> np.ndarray:
    """Return the last ``window`` prices of each symbol, split-adjusted where the source has them.

    Unadjusted closes jump at a stock split, which would read as a crash, so
    ``adj_close`` is preferred and ``close`` fills in for symbols without it.
    """
    columns = ["close", "adj_close"] if "adj_close" in panel.frame.columns else ["close"]
    data = panel.tail_matrix(columns, window)
    prices = data["close"]
    if "adj_close" in data:
        adjusted = data["adj_close"]
        prices = np.where(np.isfinite(adjusted), adjusted, prices)
    return prices


def momentum_signals(prices: np.ndarray, skip: int) -> dict[str, np.ndarray]:
    """Formation-period return and monthly consistency of each column of ``prices``.

    ``prices`` is ``(lookback + 1, n_symbols)`` with the latest bar last, as
    :meth:`PricePanel.tail_matrix` returns it. A column without a positive
    price at both ends of the formation period gets a NaN momentum.
    """
    end = prices.shape[0] - 1 - skip
    with np.errstate(divide="ignore", invalid="ignore"):
        start_price, end_price = prices[0], prices[end]
        valid = (start_price > 0) & (end_price > 0)
        momentum = np.where(valid, end_price / start_price - 1, np.nan)

        # Month boundaries from the formation start; the last segment ends at
        # ``end`` even when the period is not a whole number of months.
        boundaries = np.unique(np.append(np.arange(0, end, MONTH), end))
        monthly = np.diff(np.log(prices[boundaries]), axis=0)

    agree = np.sign(monthly) == np.sign(momentum)
    consistency = np.where(np.isfinite(monthly), agree, False).mean(axis=0)
    return {"momentum": momentum, "consistency": consistency, "months": len(boundaries) - 1}


def percentile_scores(values: np.ndarray, usable: np.ndarray) -> np.ndarray:
    """Cross-sectional percentile of each usable value, 0 (weakest) to 100 (strongest).

    Ties share the average rank. A single usable stock scores 50, because a
    rank among one carries no information. Unusable entries are NaN.
    """
    score = np.full(values.shape, np.nan)
    count = int(usable.sum())
    if count == 1:
        score[usable] = 50.0
    elif count > 1:
        ranks = pd.Series(values[usable]).rank(method="average").to_numpy()
        score[usable] = (ranks - 1) / (count - 1) * 100
    return score


def _confidence(score: np.ndarray, consistency: np.ndarray, breadth: int) -> np.ndarray:
    """Confidence from how extreme the rank is and how steadily the trend built up.

    A stock in the middle of the ranking, or one whose return came from a
    single jump, gets about 0.25, and a top- or bottom-ranked stock that
    moved the same way month after month gets close to 1.
    """
    extremeness = np.abs(score / 50 - 1)
    breadth_factor = min(breadth / FULL_BREADTH, 1.0)
    return np.clip(0.25 + 0.75 * extremeness * consistency * breadth_factor, 0, 1)
