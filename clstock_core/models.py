"""Pydantic models shared by every front-end.

The CLI's ``--format json`` and the HTTP API serialize these same models, so
a recommendation looks identical wherever it is read.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Action(StrEnum):
    """Investor action recommended for the stock now."""

    BUY = "buy"
    HOLD = "hold"
    SELL = "sell"


class StockInfo(_Model):
    """One stock of the universe."""

    code: str = Field(description="TSE code, e.g. '7203' or '130A'")
    symbol: str = Field(description="Yahoo ticker, e.g. '7203.T'")
    name: str = Field(default="", description="Company name as the exchange lists it")


class PriceRange(_Model):
    """A price band in yen."""

    low: float
    high: float


class TakeProfitTarget(_Model):
    """A price at which to sell part or all of the position for a gain."""

    price: float = Field(description="Target price in yen")
    gain_pct: float = Field(description="Gain from the current price, in percent")
    basis: str = Field(description="What the target is derived from, e.g. '2 x ATR(14)'")


class Recommendation(_Model):
    """One ranked, actionable recommendation."""

    rank: int = Field(ge=1, description="1 is the best-scored stock")
    symbol: str = Field(description="Yahoo ticker, e.g. '7203.T'")
    code: str = Field(description="TSE code, e.g. '7203'")
    company_name: str = ""
    score: float = Field(ge=0, le=100, description="Predictor score, 0 (worst) to 100 (best)")
    action: Action
    current_price: float = Field(description="Last close in yen")
    entry_price: PriceRange = Field(description="Band in which to open a position")
    stop_loss: float = Field(description="Price at which to cut the loss")
    take_profit: list[TakeProfitTarget] = Field(min_length=1)
    holding_period_days: int = Field(ge=1, description="Planned holding period in trading days")
    confidence: float = Field(ge=0, le=1, description="0 (none) to 1 (high)")
    rationale: list[str] = Field(description="The signals behind the score, in words")
    as_of: dt.date = Field(description="Date of the last bar the recommendation uses")
    stale: bool = Field(default=False, description="True when served from an older cached history")
    predictor: str = Field(description="Name of the predictor that produced the score")
    fallback_reason: str | None = Field(
        default=None,
        description="Why earlier predictors in the chain did not serve this symbol",
    )


class SkippedSymbol(_Model):
    """A symbol left out of a ranking, with the reason."""

    symbol: str
    reason: str


class RankingReport(_Model):
    """The result of ranking a universe."""

    generated_at: dt.datetime = Field(description="When the ranking was computed (UTC)")
    as_of: dt.date | None = Field(description="Latest bar date across the universe")
    universe_size: int
    recommendations: list[Recommendation]
    skipped: list[SkippedSymbol]


class Bar(_Model):
    """One daily OHLCV bar."""

    date: dt.date
    open: float
    high: float
    low: float
    close: float
    volume: int


class IndicatorValues(_Model):
    """Latest indicator values; None where the history is too short."""

    sma20: float | None
    sma50: float | None
    rsi14: float | None
    macd: float | None
    macd_signal: float | None
    atr14: float | None


class StockData(_Model):
    """Price history of one stock over a period, with its latest indicators."""

    symbol: str
    code: str
    company_name: str
    period: str
    as_of: dt.date
    bars: list[Bar]
    indicators: IndicatorValues
    price_change: float = Field(description="Last close minus the first close of the period")
    percent_change: float = Field(description="price_change as a percentage of the first close")


class MarketPhase(StrEnum):
    """Phase of the Tokyo Stock Exchange trading day."""

    PRE_OPEN = "pre_open"
    MORNING_SESSION = "morning_session"
    LUNCH_BREAK = "lunch_break"
    AFTERNOON_SESSION = "afternoon_session"
    AFTER_CLOSE = "after_close"
    CLOSED_DAY = "closed_day"


class MarketStatus(_Model):
    """Whether the Tokyo Stock Exchange is trading at a given moment."""

    exchange: str = Field(default="TSE", description="Exchange the status refers to")
    is_open: bool = Field(description="True during the morning or afternoon session")
    phase: MarketPhase
    trading_day: bool = Field(description="False on weekends, holidays and Dec 31 to Jan 3")
    closed_reason: str | None = Field(
        default=None,
        description="Why the exchange is closed all day, e.g. 'weekend' or a holiday name",
    )
    next_change: dt.datetime = Field(description="When the phase changes next, in Asia/Tokyo time")
    next_open: dt.datetime = Field(
        description="Start of the next trading session, in Asia/Tokyo time"
    )


class RecommendationsResponse(_Model):
    """A ranking as the HTTP API serves it: the CLI's report plus the market status."""

    report: RankingReport
    market: MarketStatus
