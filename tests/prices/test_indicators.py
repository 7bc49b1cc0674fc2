"""Technical indicators against straightforward loop implementations."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from clstock_core.prices.indicators import atr, bars_needed, ema, macd, rsi, sma, true_range, wilder
from tests.helpers import make_ohlcv


def reference_sma(values: list[float], period: int) -> list[float]:
    return [
        math.nan if i + 1 < period else sum(values[i + 1 - period : i + 1]) / period
        for i in range(len(values))
    ]


def reference_smoothing(values: list[float], alpha: float, min_periods: int) -> list[float]:
    """Exponential smoothing seeded at the first value: s = alpha * x + (1 - alpha) * s."""
    result, state, seen = [], math.nan, 0
    for value in values:
        if math.isnan(value):
            result.append(math.nan if seen < min_periods else state)
            continue
        state = value if seen == 0 else alpha * value + (1 - alpha) * state
        seen += 1
        result.append(state if seen >= min_periods else math.nan)
    return result


def reference_rsi(close: list[float], period: int) -> list[float]:
    changes = [math.nan] + [b - a for a, b in zip(close, close[1:], strict=False)]
    gains = [math.nan if math.isnan(c) else max(c, 0.0) for c in changes]
    losses = [math.nan if math.isnan(c) else max(-c, 0.0) for c in changes]
    average_gain = reference_smoothing(gains, 1 / period, period)
    average_loss = reference_smoothing(losses, 1 / period, period)
    result = []
    for gain, loss in zip(average_gain, average_loss, strict=True):
        if math.isnan(gain):
            result.append(math.nan)
        elif loss == 0:
            result.append(50.0 if gain == 0 else 100.0)
        else:
            result.append(100 - 100 / (1 + gain / loss))
    return result


def reference_true_range(high: list[float], low: list[float], close: list[float]) -> list[float]:
    ranges = [high[0] - low[0]]
    for i in range(1, len(high)):
        previous = close[i - 1]
        ranges.append(max(high[i] - low[i], abs(high[i] - previous), abs(low[i] - previous)))
    return ranges


@pytest.fixture
def bars() -> pd.DataFrame:
    return make_ohlcv(80, seed=11)


def assert_series_matches(actual: pd.Series, expected: list[float]) -> None:
    actual_values = actual.to_numpy(dtype="float64")
    expected_values = np.asarray(expected, dtype="float64")
    assert np.array_equal(np.isnan(actual_values), np.isnan(expected_values))
    defined = ~np.isnan(expected_values)
    assert actual_values[defined] == pytest.approx(expected_values[defined], rel=1e-12)


# -- moving averages ------------------------------------------------------


def test_sma_hand_computed():
    result = sma(pd.Series([1.0, 2.0, 3.0, 4.0, 5.0]), 3)

    assert np.isnan(result.iloc[:2]).all()
    assert result.iloc[2:].tolist() == [2.0, 3.0, 4.0]


def test_sma_matches_reference(bars):
    close = bars["close"]

    assert_series_matches(sma(close, 20), reference_sma(close.tolist(), 20))


def test_ema_hand_computed():
    # alpha = 2 / (3 + 1) = 0.5, seeded at the first bar: 1, 1.5, 2.25, 3.125.
    result = ema(pd.Series([1.0, 2.0, 3.0, 4.0]), 3)

    assert np.isnan(result.iloc[:2]).all()
    assert result.iloc[2:].tolist() == [2.25, 3.125]


def test_ema_matches_reference(bars):
    close = bars["close"]

    assert_series_matches(ema(close, 12), reference_smoothing(close.tolist(), 2 / 13, 12))


def test_wilder_matches_reference(bars):
    close = bars["close"]

    assert_series_matches(wilder(close, 14), reference_smoothing(close.tolist(), 1 / 14, 14))


def test_ema_skips_leading_padding():
    # tail_matrix pads short histories with NaN at the top; the EMA starts at the first bar.
    padded = pd.Series([np.nan, np.nan, 1.0, 2.0, 3.0, 4.0])

    result = ema(padded, 3)

    assert np.isnan(result.iloc[:4]).all()
    assert result.iloc[4:].tolist() == [2.25, 3.125]


# -- RSI ------------------------------------------------------------------


def test_rsi_strictly_rising_is_100():
    close = pd.Series(np.arange(100.0, 130.0))

    result = rsi(close)

    assert result.iloc[14:].tolist() == [100.0] * 16
    assert np.isnan(result.iloc[:14]).all()


def test_rsi_strictly_falling_is_0():
    close = pd.Series(np.arange(130.0, 100.0, -1.0))

    assert rsi(close).iloc[14:].tolist() == [0.0] * 16


def test_rsi_flat_is_50():
    close = pd.Series([500.0] * 30)

    result = rsi(close).iloc[14:]

    assert np.isfinite(result).all()
    assert result.tolist() == [50.0] * 16


def test_rsi_matches_reference(bars):
    close = bars["close"]

    assert_series_matches(rsi(close), reference_rsi(close.tolist(), 14))


def test_rsi_within_bounds(bars):
    result = rsi(bars["close"]).dropna()

    assert ((result >= 0) & (result <= 100)).all()


def test_rsi_first_value_at_bars_needed():
    close = pd.Series(np.linspace(100, 120, 40) + np.sin(np.arange(40)))

    result = rsi(close)

    assert result.first_valid_index() == bars_needed("rsi14") - 1


# -- MACD and ATR ---------------------------------------------------------


def test_macd_matches_reference(bars):
    close = bars["close"].tolist()
    fast = reference_smoothing(close, 2 / 13, 12)
    slow = reference_smoothing(close, 2 / 27, 26)
    line = [f - s for f, s in zip(fast, slow, strict=True)]
    signal = reference_smoothing(line, 2 / 10, 9)

    actual_line, actual_signal = macd(bars["close"])

    assert_series_matches(actual_line, line)
    assert_series_matches(actual_signal, signal)
    assert actual_signal.first_valid_index() == bars.index[bars_needed("macd") - 1]


def test_true_range_hand_computed():
    high = pd.Series([10.0, 12.0, 11.0])
    low = pd.Series([8.0, 11.0, 7.0])
    close = pd.Series([9.0, 11.5, 8.0])

    # Bar 1: gap up from 9, so high - previous close = 3 beats 12 - 11 = 1.
    # Bar 2: 11 - 7 = 4 beats |11 - 11.5| and |7 - 11.5| = 4.5: 4.5 wins.
    assert true_range(high, low, close).tolist() == [2.0, 3.0, 4.5]


def test_atr_matches_reference(bars):
    ranges = reference_true_range(
        bars["high"].tolist(), bars["low"].tolist(), bars["close"].tolist()
    )

    result = atr(bars["high"], bars["low"], bars["close"])

    assert_series_matches(result, reference_smoothing(ranges, 1 / 14, 14))
    assert result.first_valid_index() == bars.index[bars_needed("atr14") - 1]


def test_frame_columns_match_series(bars):
    other = make_ohlcv(80, seed=12)
    high = pd.DataFrame({"a": bars["high"].to_numpy(), "b": other["high"].to_numpy()})
    low = pd.DataFrame({"a": bars["low"].to_numpy(), "b": other["low"].to_numpy()})
    close = pd.DataFrame({"a": bars["close"].to_numpy(), "b": other["close"].to_numpy()})

    frame_atr = atr(high, low, close)
    frame_rsi = rsi(close)

    for column, source in [("a", bars), ("b", other)]:
        series_atr = atr(source["high"], source["low"], source["close"]).to_numpy()
        assert frame_atr[column].to_numpy() == pytest.approx(series_atr, nan_ok=True)
        assert frame_rsi[column].to_numpy() == pytest.approx(
            rsi(source["close"]).to_numpy(), nan_ok=True
        )
