"""The parquet data source on synthetic long-format files."""

from __future__ import annotations

import datetime as dt
import logging
import os
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from clstock_parquet.source import ParquetSource

from clstock_core.app import Application
from clstock_core.errors import ConfigError, DataFetchError, InvalidSymbolError, NoDataError
from clstock_core.prices import PricePanel, normalize_history
from tests.helpers import make_ohlcv

TICKERS = ["130A.T", "1301.T", "6758.T", "7203.T"]
FEB_9 = dt.date(2024, 2, 9)
FEB_14 = dt.date(2024, 2, 14)


def long_frame(tickers: list[str] = TICKERS, days: int = 30) -> pd.DataFrame:
    """Rows like universe-daily.parquet: one per stock and day, sorted by symbol."""
    parts = []
    for seed, ticker in enumerate(tickers):
        part = make_ohlcv(days, seed=seed, start="2024-02-01").reset_index()
        part.insert(1, "symbol", ticker)
        parts.append(part)
    frame = pd.concat(parts, ignore_index=True)
    frame = frame[["date", "symbol", "adj_close", "close", "high", "low", "open", "volume"]]
    return frame.sort_values(["symbol", "date"], ignore_index=True)


def write_parquet(
    path: Path, frame: pd.DataFrame, *, date_type: str = "naive", row_group_size: int = 25
) -> Path:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    dates = pd.DatetimeIndex(frame["date"])
    if date_type == "tokyo":
        column = pa.array(dates.tz_localize("Asia/Tokyo"), type=pa.timestamp("us", tz="Asia/Tokyo"))
    elif date_type == "date32":
        column = pa.array(dates.date, type=pa.date32())
    elif date_type == "string":
        column = pa.array(dates.strftime("%Y-%m-%d"), type=pa.string())
    else:
        column = pa.array(dates, type=pa.timestamp("us"))
    table = table.set_column(table.schema.get_field_index("date"), "date", column)
    pq.write_table(table, path, row_group_size=row_group_size)
    return path


@pytest.fixture
def frame() -> pd.DataFrame:
    return long_frame()


@pytest.fixture
def parquet_path(tmp_path: Path, frame: pd.DataFrame) -> Path:
    return write_parquet(tmp_path / "universe-daily.parquet", frame)


def rows_of(frame: pd.DataFrame, ticker: str) -> pd.DataFrame:
    return frame[frame["symbol"] == ticker].set_index("date")


# -- fetch ----------------------------------------------------------------


def test_fetch_reads_requested_symbols(parquet_path, frame):
    result = ParquetSource(parquet_path).fetch(["7203", "130a.t"], start=FEB_9, end=FEB_14)

    assert result.failures == {}
    assert sorted(result.histories) == ["130A.T", "7203.T"]
    history = normalize_history(result.histories["7203.T"], "7203.T")
    expected = rows_of(frame, "7203.T").loc["2024-02-09":"2024-02-14"]
    assert list(history.index) == list(expected.index)
    assert history["close"].to_numpy() == pytest.approx(expected["close"].to_numpy())
    assert history["volume"].tolist() == expected["volume"].tolist()


@pytest.mark.parametrize("date_type", ["naive", "tokyo", "date32", "string"])
def test_date_types_select_same_days(tmp_path, frame, date_type):
    path = write_parquet(tmp_path / f"{date_type}.parquet", frame, date_type=date_type)

    result = ParquetSource(path).fetch(["6758"], start=FEB_9, end=FEB_14)

    history = normalize_history(result.histories["6758.T"], "6758.T")
    expected = [
        pd.Timestamp(day) for day in ["2024-02-09", "2024-02-12", "2024-02-13", "2024-02-14"]
    ]
    assert list(history.index) == expected


def test_unknown_symbol_is_no_data(parquet_path):
    result = ParquetSource(parquet_path).fetch(["7203", "9999"])

    assert list(result.histories) == ["7203.T"]
    error = result.failures["9999.T"]
    assert type(error) is NoDataError
    assert "not in universe-daily.parquet" in str(error)


def test_empty_window_is_no_data(parquet_path):
    result = ParquetSource(parquet_path).fetch(["7203"], start=dt.date(2030, 1, 1))

    assert result.histories == {}
    assert type(result.failures["7203.T"]) is NoDataError


def test_invalid_symbol_raises(parquet_path):
    with pytest.raises(InvalidSymbolError, match="'ABCD'"):
        ParquetSource(parquet_path).fetch(["ABCD"])


def test_codes_stored_without_suffix(tmp_path, frame):
    frame = frame.assign(symbol=frame["symbol"].str.removesuffix(".T"))
    path = write_parquet(tmp_path / "codes.parquet", frame)
    source = ParquetSource(path)

    assert [stock.symbol for stock in source.list_stocks()] == sorted(TICKERS)
    assert len(source.fetch(["130A.T"]).histories["130A.T"]) == 30
    assert source.load_panel().symbols == sorted(TICKERS)


def test_code_and_ticker_spellings_merge(tmp_path, frame):
    first_half = frame.index[(frame["symbol"] == "7203.T")][:15]
    frame = frame.copy()
    frame.loc[first_half, "symbol"] = "7203"
    path = write_parquet(tmp_path / "spellings.parquet", frame)
    source = ParquetSource(path)

    history = source.fetch(["7203"]).histories["7203.T"]

    assert [stock.symbol for stock in source.list_stocks()] == sorted(TICKERS)
    assert len(normalize_history(history, "7203.T")) == 30
    assert source.load_panel(["7203.T"]).bar_counts["7203.T"] == 30


def test_without_adj_close(tmp_path, frame):
    path = write_parquet(tmp_path / "raw.parquet", frame.drop(columns="adj_close"))

    history = ParquetSource(path).fetch(["7203"]).histories["7203.T"]

    assert "adj_close" not in history.columns
    assert len(normalize_history(history, "7203.T")) == 30


# -- universe -------------------------------------------------------------


def test_list_stocks_without_universe(parquet_path):
    stocks = ParquetSource(parquet_path).list_stocks()

    assert [stock.symbol for stock in stocks] == sorted(TICKERS)
    assert stocks[0].code == "1301"


def test_universe_file_selects_and_names(parquet_path, caplog):
    universe = parquet_path.parent / "symbols.csv"
    universe.write_text(
        "code,symbol,name\n7203,7203.T,トヨタ自動車\n9984,9984.T,ソフトバンクグループ\n",
        encoding="utf-8",
    )

    with caplog.at_level(logging.INFO, logger="clstock_parquet"):
        stocks = ParquetSource(parquet_path, universe).list_stocks()

    assert [(stock.symbol, stock.name) for stock in stocks] == [("7203.T", "トヨタ自動車")]
    assert "9984.T" in caplog.text


def test_invalid_symbol_values_ignored(tmp_path, frame, caplog):
    extra = rows_of(frame, "7203.T").reset_index().assign(symbol="N225")
    path = write_parquet(tmp_path / "mixed.parquet", pd.concat([frame, extra], ignore_index=True))

    with caplog.at_level(logging.WARNING, logger="clstock_parquet"):
        source = ParquetSource(path)

    assert [stock.symbol for stock in source.list_stocks()] == sorted(TICKERS)
    assert source.load_panel().symbols == sorted(TICKERS)
    assert "1 symbol values that are not TSE codes" in caplog.text


# -- configuration errors ------------------------------------------------


def test_missing_file_names_path_and_fix(tmp_path):
    missing = tmp_path / "absent.parquet"

    with pytest.raises(ConfigError) as info:
        ParquetSource(missing)

    assert str(missing) in str(info.value)
    assert "[data_source.parquet] path" in str(info.value)


def test_missing_columns_listed(tmp_path, frame):
    path = write_parquet(tmp_path / "partial.parquet", frame.drop(columns=["volume", "low"]))

    with pytest.raises(ConfigError, match="lacks column\\(s\\) low, volume"):
        ParquetSource(path)


def test_not_parquet_is_config_error(tmp_path):
    path = tmp_path / "prices.parquet"
    path.write_text("date,symbol\n2024-03-01,7203.T\n", encoding="utf-8")

    with pytest.raises(ConfigError, match="cannot read .* as parquet"):
        ParquetSource(path)


# -- load_panel -----------------------------------------------------------


def test_load_panel_matches_fetch(parquet_path):
    source = ParquetSource(parquet_path)

    panel = source.load_panel()

    assert isinstance(panel, PricePanel)
    assert panel.symbols == sorted(TICKERS)
    fetched = source.fetch(TICKERS).histories
    for ticker in TICKERS:
        pd.testing.assert_frame_equal(
            panel.history(ticker), normalize_history(fetched[ticker], ticker), check_like=True
        )


def test_load_panel_subset_and_window(parquet_path):
    panel = ParquetSource(parquet_path).load_panel(["7203", "9999"], start=FEB_9, end=FEB_14)

    assert panel.symbols == ["7203.T"]
    assert panel.frame["date"].min() == pd.Timestamp("2024-02-09")
    assert panel.frame["date"].max() == pd.Timestamp("2024-02-14")


def test_load_panel_drops_invalid_rows(tmp_path, frame):
    frame = frame.copy()
    phantom = frame.index[(frame["symbol"] == "7203.T")][5]
    frame.loc[phantom, ["open", "high", "low", "close"]] = 1000.0
    frame.loc[phantom, "volume"] = 0
    broken = frame.index[(frame["symbol"] == "6758.T")][3]
    frame.loc[broken, "close"] = float("nan")
    path = write_parquet(tmp_path / "dirty.parquet", frame)

    panel = ParquetSource(path).load_panel()

    assert panel.bar_counts["7203.T"] == 29
    assert panel.bar_counts["6758.T"] == 29
    assert panel.bar_counts["1301.T"] == 30


# -- file changes ---------------------------------------------------------


def test_replaced_file_reopened(parquet_path, frame):
    source = ParquetSource(parquet_path)
    before = source.version_tag("7203.T")

    write_parquet(parquet_path, long_frame(["7203.T", "9984.T"]))
    stat = parquet_path.stat()
    os.utime(parquet_path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))

    assert source.version_tag("7203.T") != before
    assert [stock.symbol for stock in source.list_stocks()] == ["7203.T", "9984.T"]
    assert "9984.T" in source.fetch(["9984"]).histories


def test_engine_ranks_from_parquet(tmp_path):
    path = write_parquet(
        tmp_path / "universe-daily.parquet", long_frame(days=120), row_group_size=200
    )
    config = tmp_path / "clstock.toml"
    config.write_text(
        f'[data_source]\nuse = "parquet"\n[data_source.parquet]\npath = "{path.as_posix()}"\n'
        '[cache]\nuse = "none"\n[engine]\nhistory_days = 20000\n',
        encoding="utf-8",
    )

    with Application(config, environ={}) as app:
        report = app.engine.rank(top=10)

    assert report.universe_size == 4
    assert {rec.symbol for rec in report.recommendations} | {
        s.symbol for s in report.skipped
    } == set(TICKERS)
    assert report.as_of == dt.date(2024, 7, 17)


def test_corrupted_replacement_is_fetch_error(parquet_path):
    source = ParquetSource(parquet_path)

    parquet_path.write_bytes(b"not parquet any more")
    stat = parquet_path.stat()
    os.utime(parquet_path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))

    with pytest.raises(DataFetchError, match="cannot read"):
        source.fetch(["7203"])


def test_load_panel_of_unknown_symbols_is_empty(parquet_path):
    panel = ParquetSource(parquet_path).load_panel(["9999"])

    assert len(panel) == 0
    assert panel.as_of is None
