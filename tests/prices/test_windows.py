"""The vectorized moving-average kernels agree with pandas, column by column."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clstock_core.prices import PricePanel, normalize_history
from clstock_core.prices.indicators import ema, sma, wilder
from clstock_core.prices.windows import ewm_mean, rolling_mean
from tests.helpers import make_ohlcv


def _matrix(rows: int, columns: int, *, seed: int = 0) -> np.ndarray:
    """Random-walk prices with the NaN layouts that panels produce, plus hard cases."""
    rng = np.random.default_rng(seed)
    values = 1000 * np.exp(np.cumsum(rng.normal(0, 0.02, (rows, columns)), axis=0))
    for column in range(0, columns, 3):
        values[: rng.integers(0, rows), column] = np.nan  # short history, right-aligned
    for column in range(1, columns, 5):
        values[rng.integers(1, rows) :, column] = np.nan  # left-aligned, ended early
    values[:, 2] = np.nan  # no bars at all
    values[:, 4] = 999.9  # a halted stock: every bar equal
    values[rows // 2 :, 7] = 777.0  # flat after moving
    return values


def _pandas_ewm(values: np.ndarray, **options: float) -> np.ndarray:
    frame = pd.DataFrame(values)
    return np.column_stack(
        [frame[c].ewm(adjust=False, **options).mean().to_numpy() for c in frame.columns]
    )


@pytest.mark.parametrize("gap", [False, True], ids=["consecutive", "interior-gap"])
@pytest.mark.parametrize("span", [9, 12, 20, 26])
def test_ewm_bit_identical_to_pandas(span, gap):
    values = _matrix(120, 60, seed=span)
    if gap:
        values[40:45, 5] = np.nan
        values[60, 6] = np.nan

    expected = _pandas_ewm(values, span=span, min_periods=span)
    actual = ewm_mean(values, (span - 1) / 2.0, span)
    assert np.array_equal(actual, expected, equal_nan=True)


@pytest.mark.parametrize("gap", [False, True], ids=["consecutive", "interior-gap"])
def test_wilder_bit_identical_to_pandas(gap):
    values = _matrix(120, 60, seed=3)
    if gap:
        values[50:52, 8] = np.nan
    alpha = 1 / 14

    expected = _pandas_ewm(values, alpha=alpha, min_periods=14)
    actual = ewm_mean(values, (1 - alpha) / alpha, 14)
    assert np.array_equal(actual, expected, equal_nan=True)


def test_ewm_of_empty_matrix():
    assert ewm_mean(np.empty((0, 3)), 9.5, 20).shape == (0, 3)


@pytest.mark.parametrize("period", [1, 2, 20, 50, 60])
def test_rolling_mean_matches_pandas(period):
    values = _matrix(150, 60, seed=period)

    expected = pd.DataFrame(values).rolling(period, min_periods=period).mean().to_numpy()
    actual = rolling_mean(values, period)
    assert np.array_equal(np.isnan(actual), np.isnan(expected))
    assert np.allclose(actual, expected, rtol=1e-12, atol=0, equal_nan=True)


def test_rolling_mean_flat_windows_exact():
    values = _matrix(150, 10)
    actual = rolling_mean(values, 20)

    assert np.all(actual[19:, 4] == 999.9)
    assert np.all(actual[75 + 19 :, 7] == 777.0)


def test_rolling_mean_sign_of_one_sided_windows():
    values = np.array([[1e12, -1e12], [1e-3, -1e-3], [0.0, -0.0], [2e-3, -2e-3], [0.0, -0.0]])
    actual = rolling_mean(values, 2)

    # The exact means are tiny; cancellation must not flip their sign.
    assert np.all(actual[2:, 0] >= 0)
    assert np.all(actual[2:, 1] <= 0)


def test_rolling_mean_shorter_than_period():
    assert np.isnan(rolling_mean(np.ones((3, 2)), 5)).all()


def test_indicators_use_kernels_on_wide_frames():
    frame = pd.DataFrame(_matrix(40, 80, seed=5))
    by_column = {
        "sma": frame.rolling(20, min_periods=20).mean(),
        "ema": frame.ewm(span=12, adjust=False, min_periods=12).mean(),
        "wilder": frame.ewm(alpha=1 / 14, adjust=False, min_periods=14).mean(),
    }

    pd.testing.assert_frame_equal(sma(frame, 20), by_column["sma"], rtol=1e-12)
    pd.testing.assert_frame_equal(ema(frame, 12), by_column["ema"], check_exact=True)
    pd.testing.assert_frame_equal(wilder(frame, 14), by_column["wilder"], check_exact=True)


def test_indicators_keep_index_and_columns():
    columns = [f"s{i}" for i in range(30)]
    frame = pd.DataFrame(_matrix(10, 30), index=pd.RangeIndex(100, 110), columns=columns)
    for result in (sma(frame, 5), ema(frame, 5), wilder(frame, 5)):
        assert result.index.equals(frame.index)
        assert result.columns.equals(frame.columns)


def test_indicators_on_tall_frames_unchanged():
    frame = pd.DataFrame(_matrix(300, 20, seed=9))
    expected = frame.rolling(50, min_periods=50).mean()
    pd.testing.assert_frame_equal(sma(frame, 50), expected, check_exact=True)


# -- PricePanel fast paths ----------------------------------------------------------


def _panel(days: dict[str, int]) -> PricePanel:
    histories = {
        ticker: normalize_history(make_ohlcv(count, seed=index), ticker)
        for index, (ticker, count) in enumerate(days.items())
    }
    return PricePanel.from_histories(histories)


def test_panel_symbols_and_counts():
    panel = _panel({"9984.T": 30, "130A.T": 5, "7203.T": 12})

    assert panel.symbols == ["130A.T", "7203.T", "9984.T"]
    assert panel.bar_counts.to_dict() == {"130A.T": 5, "7203.T": 12, "9984.T": 30}


def test_panel_last_dates_match_groupby():
    panel = _panel({"9984.T": 30, "130A.T": 5, "7203.T": 12})
    expected = panel.frame.groupby("symbol")["date"].max()

    assert panel.last_dates.to_dict() == expected.to_dict()


def test_panel_unsorted_frame_falls_back():
    sorted_panel = _panel({"7203.T": 4, "6758.T": 3})
    shuffled = sorted_panel.frame.sample(frac=1, random_state=0).reset_index(drop=True)
    panel = PricePanel(shuffled)

    assert panel.symbols == ["6758.T", "7203.T"]
    assert panel.bar_counts.to_dict() == {"6758.T": 3, "7203.T": 4}


def test_panel_empty():
    panel = PricePanel.empty()

    assert panel.symbols == []
    assert panel.last_dates.empty
    assert panel.tail_matrix(["close"], 5)["close"].shape == (5, 0)


def test_tail_matrix_windows_cached_independently():
    panel = _panel({"7203.T": 30, "6758.T": 8})
    short = panel.tail_matrix(["close"], 5)["close"]
    long = panel.tail_matrix(["close"], 20)["close"]

    assert np.array_equal(short, long[-5:], equal_nan=True)
    assert np.isnan(long[:12, 0]).all()
    assert panel.tail_matrix(["close"], 5)["close"].tolist() == short.tolist()
