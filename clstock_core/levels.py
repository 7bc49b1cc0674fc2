"""Turn a score and the recent price action into trading levels.

Levels come from the stock's own volatility (ATR) and its recent support and
resistance rather than fixed percentages, so a quiet utility and a volatile
growth stock get stops of different widths.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from clstock_core.models import Action, PriceRange, TakeProfitTarget

BUY_THRESHOLD = 60.0
SELL_THRESHOLD = 40.0

# A stop closer than 1.5 ATR is hit by ordinary noise; one further than
# 3 ATR risks more than a 1-3 month position should.
MIN_STOP_ATR = 1.5
MAX_STOP_ATR = 3.0
# Take-profit targets as multiples of the risk (entry to stop), i.e. the
# reward-to-risk ratios 1.5 and 2.5.
TARGET_MULTIPLES = (1.5, 2.5)


@dataclass(frozen=True)
class PriceContext:
    """Inputs of the level computation, all in yen."""

    close: float
    atr: float
    support: float  # lowest low of the last 20 sessions
    resistance: float  # highest high of the last 60 sessions


@dataclass(frozen=True)
class Levels:
    entry: PriceRange
    stop_loss: float
    targets: list[TakeProfitTarget]


def action_for(score: float) -> Action:
    if score >= BUY_THRESHOLD:
        return Action.BUY
    if score <= SELL_THRESHOLD:
        return Action.SELL
    return Action.HOLD


def _tick(price: float) -> float:
    """Round to a sensible yen precision: whole yen above 1,000, else 0.1 yen."""
    return round(price) if price >= 1000 else round(price, 1)


def compute_levels(context: PriceContext, action: Action) -> Levels:
    """Compute entry band, stop loss and take-profit targets.

    For buy and hold the levels are for a long position. For sell they are
    mirrored: the band to sell into, a stop above the price (where the sell
    call is proven wrong) and targets below it.
    """
    close = context.close
    atr = context.atr if math.isfinite(context.atr) and context.atr > 0 else close * 0.02
    direction = -1.0 if action is Action.SELL else 1.0

    if direction > 0:
        structural = context.support - 0.5 * atr
        risk = min(max(close - structural, MIN_STOP_ATR * atr), MAX_STOP_ATR * atr)
        entry = PriceRange(
            low=_tick(max(close - 0.5 * atr, context.support)), high=_tick(close + 0.25 * atr)
        )
    else:
        structural = context.resistance + 0.5 * atr
        risk = min(max(structural - close, MIN_STOP_ATR * atr), MAX_STOP_ATR * atr)
        entry = PriceRange(
            low=_tick(close - 0.25 * atr), high=_tick(min(close + 0.5 * atr, context.resistance))
        )

    stop = close - direction * risk
    targets = []
    for multiple in TARGET_MULTIPLES:
        price = close + direction * multiple * risk
        targets.append(
            TakeProfitTarget(
                price=_tick(price),
                gain_pct=round(abs(price - close) / close * 100, 2),
                basis=f"{multiple:g} x risk ({risk / atr:.1f} x ATR(14))",
            )
        )
    return Levels(entry=entry, stop_loss=_tick(stop), targets=targets)
