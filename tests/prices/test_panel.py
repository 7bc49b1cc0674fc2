"""PricePanel.tail_matrix: right alignment by position and NaN padding."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clstock_core.prices import PricePanel


def history(closes: list[float], start: str = "2024-03-01") -> pd.DataFrame:
    """Normalized bars (index ``date``) whose prices all equal ``closes``."""
    index = pd.bdate_range(start, periods=len(closes), name="date")
    values = np.asarray(closes, dtype="float64")
    return pd.DataFrame(
        {
            "open": values,
            "high": values + 1,
            "low": values - 1,
            "close": values,
            "volume": np.arange(len(closes), dtype=np.int64) + 1,
        },
        index=index,
    )


@pytest.fixture
def panel() -> PricePanel:
    # Inserted out of order: the panel sorts by symbol.
    return PricePanel.from_histories(
        {
            "7203.T": history([1.0, 2.0, 3.0, 4.0, 5.0]),
            "130A.T": history([10.0, 20.0, 30.0]),
            "6758.T": history([100.0, 200.0, 300.0, 400.0], start="2024-02-20"),
        }
    )


def test_columns_follow_symbols(panel):
    matrix = panel.tail_matrix(["close"], 3)["close"]

    assert panel.symbols == ["130A.T", "6758.T", "7203.T"]
    assert matrix.shape == (3, 3)
    assert matrix[-1].tolist() == [30.0, 400.0, 5.0]


def test_right_aligned_by_position(panel):
    matrix = panel.tail_matrix(["close"], 4)["close"]

    # Each column ends with the symbol's own latest bar, whatever its date.
    np.testing.assert_array_equal(matrix[:, 0], [np.nan, 10.0, 20.0, 30.0])
    np.testing.assert_array_equal(matrix[:, 1], [100.0, 200.0, 300.0, 400.0])
    np.testing.assert_array_equal(matrix[:, 2], [2.0, 3.0, 4.0, 5.0])


def test_short_history_padded_at_top(panel):
    matrix = panel.tail_matrix(["close"], 7)["close"]

    assert matrix.shape == (7, 3)
    assert np.isnan(matrix[:4, 0]).all()
    assert matrix[4:, 0].tolist() == [10.0, 20.0, 30.0]
    assert np.isnan(matrix[:2, 2]).all()
    assert matrix[2:, 2].tolist() == [1.0, 2.0, 3.0, 4.0, 5.0]


def test_window_of_one_is_latest_bar(panel):
    matrices = panel.tail_matrix(["high", "volume"], 1)

    assert matrices["high"].tolist() == [[31.0, 401.0, 6.0]]
    assert matrices["volume"].tolist() == [[3.0, 4.0, 5.0]]
    assert matrices["volume"].dtype == np.float64


def test_several_columns_aligned(panel):
    matrices = panel.tail_matrix(["low", "close"], 2)

    np.testing.assert_array_equal(matrices["low"], matrices["close"] - 1)


def test_after_until_and_subset(panel):
    cut = panel.until(pd.Timestamp("2024-03-04")).subset(["7203.T", "6758.T"])

    matrix = cut.tail_matrix(["close"], 2)["close"]

    assert cut.symbols == ["6758.T", "7203.T"]
    # 7203.T has bars on 03-01 and 03-04 by then, 6758.T all four (02-20 .. 02-23).
    np.testing.assert_array_equal(matrix, [[300.0, 1.0], [400.0, 2.0]])


def test_from_long_unsorted_rows():
    frame = pd.DataFrame(
        {
            "symbol": ["7203.T", "130A.T", "7203.T", "130A.T", "7203.T"],
            "date": pd.to_datetime(
                ["2024-03-05", "2024-03-04", "2024-03-01", "2024-03-01", "2024-03-04"]
            ),
            "open": [3.0, 20.0, 1.0, 10.0, 2.0],
            "high": [3.0, 20.0, 1.0, 10.0, 2.0],
            "low": [3.0, 20.0, 1.0, 10.0, 2.0],
            "close": [3.0, 20.0, 1.0, 10.0, 2.0],
            "volume": [5, 5, 5, 5, 5],
        }
    )

    matrix = PricePanel.from_long(frame).tail_matrix(["close"], 3)["close"]

    np.testing.assert_array_equal(matrix, [[np.nan, 1.0], [10.0, 2.0], [20.0, 3.0]])


def test_empty_panel_has_no_columns():
    matrix = PricePanel.empty().tail_matrix(["close"], 5)["close"]

    assert matrix.shape == (5, 0)
