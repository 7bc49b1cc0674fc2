"""Score every stock of a panel at once from classic technical signals.

Each signal is mapped to [-1, 1] (bearish to bullish), the weighted sum is
mapped to 0-100, and confidence grows with how many signals agree.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from clstock_core.prices import PricePanel
from clstock_core.prices.indicators import ema, macd, rsi, sma
from clstock_core.roles import Prediction

# Wilder's RSI and the MACD EMAs forget their seed geometrically. After 250
# bars the seed's weight is below 1e-7, so scoring the last 250 bars gives
# the same values as scoring the whole history, and costs far less.
WINDOW = 250


class TechnicalSettings(BaseModel):
    """Weights of the signals; they are normalized to sum to 1."""

    model_config = ConfigDict(extra="forbid")

    trend_weight: float = Field(
        default=0.4, ge=0, description="Weight of price vs SMA20/SMA50 and SMA20 vs SMA50"
    )
    rsi_weight: float = Field(default=0.2, ge=0, description="Weight of RSI(14)")
    macd_weight: float = Field(default=0.25, ge=0, description="Weight of MACD vs its signal line")
    volume_weight: float = Field(
        default=0.15, ge=0, description="Weight of the 20- vs 60-day volume trend"
    )
    min_history: int = Field(
        default=60, ge=55, description="Minimum trading days of history a stock needs to be scored"
    )


class TechnicalPredictor:
    name = "technical"

    def __init__(self, settings: TechnicalSettings) -> None:
        self.settings = settings

    @classmethod
    def from_settings(cls, settings: TechnicalSettings, app: object = None) -> TechnicalPredictor:
        return cls(settings)

    def predict(self, panel: PricePanel) -> Prediction:
        if len(panel) == 0:
            return Prediction(scores=pd.DataFrame(columns=["score", "confidence"]))

        signals = compute_signals(panel)
        counts = panel.bar_counts.to_numpy()
        enough = counts >= self.settings.min_history

        score, confidence = self._combine(signals)
        symbols = np.asarray(panel.symbols, dtype=object)
        scores = pd.DataFrame(
            {"score": score[enough], "confidence": confidence[enough]}, index=symbols[enough]
        )
        failures = {
            str(symbol): (
                f"insufficient history: {count} trading days, at least "
                f"{self.settings.min_history} needed"
            )
            for symbol, count in zip(symbols[~enough], counts[~enough], strict=True)
        }
        rationale = describe(signals, symbols, enough)
        return Prediction(scores=scores, rationale=rationale, failures=failures)

    def _combine(self, signals: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        s = self.settings
        weights = np.array([s.trend_weight, s.rsi_weight, s.macd_weight, s.volume_weight])
        total = weights.sum()
        weights = weights / total if total > 0 else np.full(4, 0.25)

        return combine_signals(signals, weights)


def combine_signals(
    signals: dict[str, np.ndarray], weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Score (0-100) and confidence (0-1) from signal arrays of any shape.

    ``weights`` contains the trend, RSI, MACD and volume weights, which sum to 1.
    """
    parts = np.stack(
        [signals["trend"], signals["rsi_signal"], signals["macd_signal"], signals["volume_signal"]]
    )
    parts = np.nan_to_num(parts, nan=0.0)
    combined = np.tensordot(weights, parts, axes=1)
    score = np.clip(50 + 50 * combined, 0, 100)

    # Agreement: the weighted share of signals pointing the same way as
    # the combined score. All agreeing gives 1; a split vote about 0.5.
    direction = np.sign(combined)
    agree = np.tensordot(weights, (np.sign(parts) == direction).astype(float), axes=1)
    confidence = np.clip(0.25 + 0.75 * agree * np.minimum(np.abs(combined) * 2.5, 1.0), 0, 1)
    return score, confidence


def compute_signals(panel: PricePanel) -> dict[str, np.ndarray]:
    """Indicator values and signals for each symbol's latest bar."""
    data = panel.tail_matrix(["close", "volume"], WINDOW)
    signals = signal_matrix(pd.DataFrame(data["close"]), pd.DataFrame(data["volume"]))
    return {name: values[-1] for name, values in signals.items()}


def signal_matrix(close: pd.DataFrame, volume: pd.DataFrame) -> dict[str, np.ndarray]:
    """Indicator values and signals for every row of bar x symbol frames.

    Each column must hold one symbol's consecutive bars (NaN only as padding
    before the first or after the last bar), so every row gets the value the
    signal had on that bar. Returns 2-D arrays shaped like ``close``.
    """
    last = close.to_numpy()
    sma20 = sma(close, 20).to_numpy()
    sma50 = sma(close, 50).to_numpy()
    rsi14 = rsi(close).to_numpy()
    macd_line, signal_line = macd(close)
    macd_gap = (macd_line - signal_line).to_numpy()
    volume20 = ema(volume, 20).to_numpy()
    volume60 = sma(volume, 60).to_numpy()
    change20 = (close / close.shift(20) - 1).to_numpy()

    with np.errstate(divide="ignore", invalid="ignore"):
        above20 = last / sma20 - 1
        above50 = last / sma50 - 1
        cross = sma20 / sma50 - 1
        volume_ratio = volume20 / volume60
        macd_rel = macd_gap / last

        # 5% above or below a moving average is treated as a full-strength signal.
        trend = (np.tanh(above20 / 0.05) + np.tanh(above50 / 0.05) + np.tanh(cross / 0.05)) / 3
        # A price far above its 20-day average has usually run ahead of
        # itself and tends to give back part of the move within weeks, so
        # the trend credit shrinks from 15% above SMA20 and is gone at 35%.
        overextension = np.clip((above20 - 0.15) / 0.20, 0, 1)
        trend = trend - np.where(trend > 0, trend * overextension, 0)
        # Momentum counts fully from RSI 65; above 75 the stock is stretched.
        rsi_signal = np.where(
            rsi14 > 75, 1 - (rsi14 - 75) / 12.5, np.clip((rsi14 - 50) / 15, -1, 1)
        )
        macd_signal = np.tanh(macd_rel / 0.01)
        # Rising volume confirms the direction of the 20-day price move.
        volume_signal = np.tanh(np.log(volume_ratio) / 0.3) * np.sign(change20)

    return {
        "close": last,
        "sma20": sma20,
        "sma50": sma50,
        "rsi14": rsi14,
        "macd_gap": macd_gap,
        "volume_ratio": volume_ratio,
        "above20": above20,
        "above50": above50,
        "trend": trend,
        "rsi_signal": np.clip(rsi_signal, -1, 1),
        "macd_signal": macd_signal,
        "volume_signal": volume_signal,
    }


def describe(
    signals: dict[str, np.ndarray], symbols: np.ndarray, mask: np.ndarray
) -> dict[str, list[str]]:
    """Describe the signals behind each score in words."""
    result = {}
    for index in np.flatnonzero(mask):
        above20, above50 = signals["above20"][index], signals["above50"][index]
        sma20, sma50 = signals["sma20"][index], signals["sma50"][index]
        rsi14, gap = signals["rsi14"][index], signals["macd_gap"][index]
        ratio = signals["volume_ratio"][index]

        lines = [
            f"price {abs(above20) * 100:.1f}% {'above' if above20 >= 0 else 'below'} SMA20 "
            f"and {abs(above50) * 100:.1f}% {'above' if above50 >= 0 else 'below'} SMA50",
            "SMA20 above SMA50 (uptrend)" if sma20 >= sma50 else "SMA20 below SMA50 (downtrend)",
            f"RSI(14) {rsi14:.0f} ({_rsi_words(rsi14)})",
            "MACD above its signal line (bullish)"
            if gap >= 0
            else "MACD below its signal line (bearish)",
        ]
        if np.isfinite(ratio):
            lines.append(f"volume {ratio:.2f}x its 60-day average")
        result[str(symbols[index])] = lines
    return result


def _rsi_words(value: float) -> str:
    if value >= 70:
        return "overbought"
    if value <= 30:
        return "oversold"
    return "bullish momentum" if value >= 50 else "weak momentum"
