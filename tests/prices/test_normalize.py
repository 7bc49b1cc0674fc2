"""Normalization of raw daily bars into the kernel's one shape."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clstock_core.errors import NoDataError
from clstock_core.prices.normalize import exchange_dates, normalize_history, normalize_long
from tests.helpers import make_ohlcv


def raw_bars(dates: list[str], *, tz: str | None = None, **columns: list) -> pd.DataFrame:
    """A Yahoo-style frame (title-case columns) with defaults of one valid bar per date."""
    count = len(dates)
    data = {
        "Open": columns.get("open", [100.0] * count),
        "High": columns.get("high", [110.0] * count),
        "Low": columns.get("low", [90.0] * count),
        "Close": columns.get("close", [105.0] * count),
        "Volume": columns.get("volume", [1000] * count),
    }
    if "adj_close" in columns:
        data["Adj Close"] = columns["adj_close"]
    index = pd.DatetimeIndex(pd.to_datetime(dates, format="ISO8601"), name="Date")
    if tz is not None:
        index = index.tz_localize(tz)
    return pd.DataFrame(data, index=index)


# -- dates ----------------------------------------------------------------


def test_tokyo_midnight_keeps_its_date():
    frame = raw_bars(["2024-03-01 00:00"], tz="Asia/Tokyo")

    history = normalize_history(frame, "7203.T")

    assert list(history.index) == [pd.Timestamp("2024-03-01")]


def test_utc_stamp_converts_to_tokyo_date():
    # 2024-02-29 15:00 UTC is 2024-03-01 00:00 in Tokyo.
    frame = raw_bars(["2024-02-29 15:00"], tz="UTC")

    history = normalize_history(frame, "7203.T")

    assert list(history.index) == [pd.Timestamp("2024-03-01")]


def test_naive_dates_kept_as_exchange_dates():
    frame = raw_bars(["2024-03-01", "2024-03-04 15:30"])

    history = normalize_history(frame, "7203.T")

    assert list(history.index) == [pd.Timestamp("2024-03-01"), pd.Timestamp("2024-03-04")]


def test_index_is_naive_named_date():
    history = normalize_history(raw_bars(["2024-03-01"], tz="Asia/Tokyo"), "7203.T")

    assert history.index.name == "date"
    assert history.index.tz is None
    assert isinstance(history.index, pd.DatetimeIndex)


def test_exchange_dates_of_strings_with_offset():
    dates = exchange_dates(pd.Index(["2024-03-01 00:00:00+09:00", "2024-03-04 00:00:00+09:00"]))

    assert list(dates) == [pd.Timestamp("2024-03-01"), pd.Timestamp("2024-03-04")]


# -- rows -----------------------------------------------------------------


def test_rows_sorted_by_date():
    frame = raw_bars(["2024-03-04", "2024-03-01", "2024-03-05"], close=[2.0, 1.0, 3.0])

    history = normalize_history(frame, "7203.T")

    assert list(history.index) == [
        pd.Timestamp(d) for d in ["2024-03-01", "2024-03-04", "2024-03-05"]
    ]
    assert history["close"].tolist() == [1.0, 2.0, 3.0]


def test_duplicate_date_keeps_last_row():
    frame = raw_bars(["2024-03-01", "2024-03-01", "2024-03-04"], close=[101.0, 102.0, 103.0])

    history = normalize_history(frame, "7203.T")

    assert list(history.index) == [pd.Timestamp("2024-03-01"), pd.Timestamp("2024-03-04")]
    assert history["close"].tolist() == [102.0, 103.0]


def test_duplicate_after_tz_conversion_keeps_last():
    # Both stamps fall on 2024-03-01 in Tokyo.
    frame = raw_bars(["2024-02-29 15:00", "2024-03-01 06:00"], tz="UTC", close=[101.0, 102.0])

    history = normalize_history(frame, "7203.T")

    assert history["close"].tolist() == [102.0]


def test_invalid_duplicate_does_not_replace_valid_row():
    frame = raw_bars(["2024-03-01", "2024-03-01"], close=[101.0, np.nan])

    history = normalize_history(frame, "7203.T")

    assert history["close"].tolist() == [101.0]


def test_all_nan_row_dropped():
    frame = raw_bars(
        ["2024-03-01", "2024-03-04"],
        open=[np.nan, 100.0],
        high=[np.nan, 110.0],
        low=[np.nan, 90.0],
        close=[np.nan, 105.0],
        volume=[np.nan, 1000],
    )

    history = normalize_history(frame, "7203.T")

    assert list(history.index) == [pd.Timestamp("2024-03-04")]


@pytest.mark.parametrize("column", ["open", "high", "low", "close", "volume"])
def test_missing_value_drops_row(column):
    values = {column: [np.nan, 100.0]}
    frame = raw_bars(["2024-03-01", "2024-03-04"], **values)

    history = normalize_history(frame, "7203.T")

    assert list(history.index) == [pd.Timestamp("2024-03-04")]


def test_phantom_holiday_row_dropped():
    frame = raw_bars(
        ["2024-03-01", "2024-03-04", "2024-03-05"],
        open=[100.0, 105.0, 106.0],
        high=[110.0, 105.0, 108.0],
        low=[90.0, 105.0, 104.0],
        close=[105.0, 105.0, 107.0],
        volume=[1000, 0, 1200],
    )

    history = normalize_history(frame, "7203.T")

    assert list(history.index) == [pd.Timestamp("2024-03-01"), pd.Timestamp("2024-03-05")]


def test_flat_bar_with_volume_kept():
    frame = raw_bars(
        ["2024-03-01"], open=[105.0], high=[105.0], low=[105.0], close=[105.0], volume=[500]
    )

    assert len(normalize_history(frame, "7203.T")) == 1


def test_zero_volume_with_range_kept():
    frame = raw_bars(["2024-03-01"], volume=[0])

    assert normalize_history(frame, "7203.T")["volume"].tolist() == [0]


@pytest.mark.parametrize(
    "values",
    [{"close": [0.0, 105.0]}, {"low": [-1.0, 90.0]}, {"volume": [-5, 1000]}],
    ids=["zero-close", "negative-low", "negative-volume"],
)
def test_non_positive_values_drop_row(values):
    frame = raw_bars(["2024-03-01", "2024-03-04"], **values)

    history = normalize_history(frame, "7203.T")

    assert list(history.index) == [pd.Timestamp("2024-03-04")]


@pytest.mark.parametrize("value", [np.inf, -np.inf])
@pytest.mark.parametrize("column", ["open", "close", "volume"])
def test_infinite_value_drops_row(column, value):
    frame = raw_bars(["2024-03-01", "2024-03-04"], **{column: [value, 100.0]})

    history = normalize_history(frame, "7203.T")

    assert list(history.index) == [pd.Timestamp("2024-03-04")]
    assert np.isfinite(history.to_numpy(dtype="float64")).all()


# -- types ----------------------------------------------------------------


def test_prices_float_volume_int():
    frame = raw_bars(
        ["2024-03-01", "2024-03-04"],
        open=[100, 101],
        high=["110", "111"],
        low=[90, 91],
        close=[105, 106],
        volume=[1000.0, 1200.4],
    )

    history = normalize_history(frame, "7203.T")

    for column in ["open", "high", "low", "close"]:
        assert history[column].dtype == np.float64
    assert history["volume"].dtype == np.int64
    assert history["volume"].tolist() == [1000, 1200]
    assert history["high"].tolist() == [110.0, 111.0]


def test_column_names_normalized():
    frame = raw_bars(["2024-03-01"], adj_close=[104.0])

    history = normalize_history(frame, "7203.T")

    assert sorted(history.columns) == sorted(
        ["open", "high", "low", "close", "adj_close", "volume"]
    )


def test_extra_columns_dropped():
    frame = raw_bars(["2024-03-01"]).assign(Dividends=0.0, **{"Stock Splits": 0.0})

    assert "dividends" not in normalize_history(frame, "7203.T").columns


def test_bad_adj_close_falls_back_to_close():
    frame = raw_bars(["2024-03-01", "2024-03-04"], close=[105.0, 106.0], adj_close=[-3.0, np.nan])

    history = normalize_history(frame, "7203.T")

    assert history["adj_close"].tolist() == [105.0, 106.0]


# -- empty results --------------------------------------------------------


def test_all_rows_invalid_raises_no_data():
    frame = raw_bars(["2024-03-01"], close=[np.nan])

    with pytest.raises(NoDataError, match="no data for 7203.T") as info:
        normalize_history(frame, "7203.T")

    assert info.value.symbol == "7203.T"


def test_empty_frame_raises_no_data():
    frame = pd.DataFrame(
        {"Open": [], "High": [], "Low": [], "Close": [], "Volume": []},
        index=pd.DatetimeIndex([], name="Date"),
    )

    with pytest.raises(NoDataError, match="no data for 7203.T"):
        normalize_history(frame, "7203.T")


def test_missing_column_raises_no_data():
    frame = raw_bars(["2024-03-01"]).drop(columns="Volume")

    with pytest.raises(NoDataError, match="volume"):
        normalize_history(frame, "7203.T")


# -- long frames ----------------------------------------------------------


def test_long_frame_sorted_by_symbol_then_date():
    frame = pd.DataFrame(
        {
            "symbol": ["7203.T", "130A.T", "7203.T", "130A.T"],
            "date": pd.to_datetime(["2024-03-04", "2024-03-04", "2024-03-01", "2024-03-01"]),
            "open": [1.0, 2.0, 3.0, 4.0],
            "high": [1.0, 2.0, 3.0, 4.0],
            "low": [1.0, 2.0, 3.0, 4.0],
            "close": [1.0, 2.0, 3.0, 4.0],
            "volume": [10, 20, 30, 40],
        }
    )

    long = normalize_long(frame)

    assert long["symbol"].tolist() == ["130A.T", "130A.T", "7203.T", "7203.T"]
    assert long["close"].tolist() == [4.0, 2.0, 3.0, 1.0]
    assert list(long.index) == [0, 1, 2, 3]


def test_future_bars_are_dropped():
    frame = make_ohlcv(5, start="2024-01-04")
    future = make_ohlcv(3, start=str(pd.Timestamp.now().year + 2) + "-01-05", seed=1)
    result = normalize_history(pd.concat([frame, future]), "7203.T")
    assert len(result) == 5
    assert result.index.max() < pd.Timestamp.now()


def test_absurd_values_are_dropped():
    frame = make_ohlcv(6)
    frame["volume"] = frame["volume"].astype("float64")
    frame.iloc[1, frame.columns.get_loc("close")] = 1e300
    frame.iloc[2, frame.columns.get_loc("volume")] = 1e30
    frame.iloc[3, frame.columns.get_indexer(["open", "high", "low", "close"])] = [100, 50, 200, 100]
    result = normalize_history(frame, "7203.T")
    assert len(result) == 3
    assert result["close"].max() < 1e8
    assert result["volume"].min() >= 0


def test_high_low_widened_to_contain_open_close():
    frame = make_ohlcv(3)
    frame.iloc[0, frame.columns.get_indexer(["open", "high", "low", "close"])] = [
        1012.0,
        1012.0,
        1006.0,
        1018.0,
    ]
    result = normalize_history(frame, "7203.T")
    assert result["high"].iloc[0] == 1018.0
    assert result["low"].iloc[0] == 1006.0
