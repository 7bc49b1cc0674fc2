"""The csv data source on synthetic files of every accepted layout."""

from __future__ import annotations

import datetime as dt
import logging
import os
from pathlib import Path

import pandas as pd
import pytest
from clstock_csv.source import CsvSource

from clstock_core.errors import ConfigError, DataFetchError, NoDataError
from clstock_core.prices import normalize_history
from clstock_core.symbols import parse_symbol
from tests.helpers import make_ohlcv, write_plain_csv, write_yfinance_csv

UNIVERSE_HEADER = "code,symbol,name\n"


@pytest.fixture
def rows() -> pd.DataFrame:
    return make_ohlcv(30, seed=7, start="2024-02-01")


def write_history_csv(path: Path, frame: pd.DataFrame) -> None:
    """What ``yfinance.Ticker("7203.T").history().to_csv()`` writes: one header, +09:00 stamps."""
    out = frame.rename(
        columns={"open": "Open", "high": "High", "low": "Low", "close": "Close", "volume": "Volume"}
    )
    out = out.drop(columns="adj_close")
    out.index = out.index.tz_localize("Asia/Tokyo").rename("Date")
    out["Dividends"] = 0.0
    out["Stock Splits"] = 0.0
    out.to_csv(path)


def write_ticker_first_csv(path: Path, frame: pd.DataFrame, ticker: str) -> None:
    """What ``yfinance.download(..., group_by="ticker").to_csv()`` writes."""
    names = {
        "open": "Open",
        "high": "High",
        "low": "Low",
        "close": "Close",
        "adj_close": "Adj Close",
        "volume": "Volume",
    }
    out = frame.rename(columns=names)
    out.columns = pd.MultiIndex.from_product([[ticker], out.columns], names=["Ticker", "Price"])
    out.index = out.index.rename("Date")
    out.to_csv(path)


def load(directory: Path, symbol: str, **dates: dt.date) -> pd.DataFrame:
    ticker = parse_symbol(symbol).ticker
    result = CsvSource(directory).fetch([symbol], **dates)
    assert result.failures == {}, result.failures
    return normalize_history(result.histories[ticker], ticker)


# -- layouts --------------------------------------------------------------


@pytest.mark.parametrize("layout", ["plain", "yfinance", "ticker-first", "history"])
def test_layout_loads_same_bars(tmp_path, rows, layout):
    path = tmp_path / "7203.T.csv"
    if layout == "plain":
        write_plain_csv(path, rows)
    elif layout == "yfinance":
        write_yfinance_csv(path, rows, "7203.T")
    elif layout == "ticker-first":
        write_ticker_first_csv(path, rows, "7203.T")
    else:
        write_history_csv(path, rows)

    history = load(tmp_path, "7203.T")

    assert list(history.index) == list(rows.index)
    assert history["close"].to_numpy() == pytest.approx(rows["close"].to_numpy())
    assert history["volume"].tolist() == rows["volume"].tolist()


def write_download_csv(path: Path, frames: dict[str, pd.DataFrame], group_by: str) -> None:
    """What ``yfinance.download([...], group_by=...).to_csv()`` writes for several tickers."""
    names = {"open": "Open", "high": "High", "low": "Low", "close": "Close", "volume": "Volume"}
    parts = {
        ticker: frame.drop(columns="adj_close").rename(columns=names)
        for ticker, frame in frames.items()
    }
    wide = pd.concat(parts, axis=1, names=["Ticker", "Price"])
    if group_by == "column":
        wide = wide.swaplevel(0, 1, axis=1).sort_index(axis=1, level=0)
    wide.index = wide.index.rename("Date")
    wide.to_csv(path)


@pytest.mark.parametrize("group_by", ["column", "ticker"])
def test_multi_ticker_file_reads_own_columns(tmp_path, group_by):
    frames = {"7203.T": make_ohlcv(10, seed=1), "6758.T": make_ohlcv(10, seed=2)}
    write_download_csv(tmp_path / "6758.T.csv", frames, group_by)

    history = load(tmp_path, "6758")

    assert history["close"].to_numpy() == pytest.approx(frames["6758.T"]["close"].to_numpy())
    assert history["volume"].tolist() == frames["6758.T"]["volume"].tolist()


def test_multi_ticker_file_without_own_columns(tmp_path):
    frames = {"7203.T": make_ohlcv(10, seed=1), "6758.T": make_ohlcv(10, seed=2)}
    write_download_csv(tmp_path / "9984.T.csv", frames, "column")

    result = CsvSource(tmp_path).fetch(["9984"])

    error = result.failures["9984.T"]
    assert type(error) is NoDataError
    assert "6758.T, 7203.T but none of 9984.T" in str(error)


def test_other_single_ticker_warns(tmp_path, rows, caplog):
    write_yfinance_csv(tmp_path / "7203.T.csv", rows, "6758.T")

    with caplog.at_level(logging.WARNING, logger="clstock_csv"):
        history = load(tmp_path, "7203")

    assert len(history) == len(rows)
    assert "names ticker 6758.T" in caplog.text


def test_three_header_file_shape(tmp_path, rows):
    write_yfinance_csv(tmp_path / "7203.T.csv", rows, "7203.T")

    lines = (tmp_path / "7203.T.csv").read_text(encoding="utf-8").splitlines()

    assert lines[0].startswith("Price,Adj Close,Close")
    assert lines[1].startswith("Ticker,7203.T")
    assert lines[2].startswith("Date,,")
    assert len(load(tmp_path, "7203").index) == len(rows)


def test_offset_dates_filter_by_start_end(tmp_path, rows):
    write_history_csv(tmp_path / "7203.T.csv", rows)

    history = load(tmp_path, "7203.T", start=dt.date(2024, 2, 9), end=dt.date(2024, 2, 14))

    expected = [
        pd.Timestamp(day) for day in ["2024-02-09", "2024-02-12", "2024-02-13", "2024-02-14"]
    ]
    assert list(history.index) == expected


def test_mixed_offsets_keep_tokyo_dates(tmp_path):
    (tmp_path / "7203.T.csv").write_text(
        "Date,Open,High,Low,Close,Volume\n"
        "2024-02-29 00:00:00+09:00,10,11,9,10.5,100\n"
        "2024-02-29 15:00:00+00:00,10,11,9,10.6,100\n"
        "2024-03-04,10,11,9,10.7,100\n",
        encoding="utf-8",
    )

    history = load(tmp_path, "7203.T")

    # 15:00 UTC on 02-29 is 00:00 on 03-01 in Tokyo.
    assert list(history.index) == [
        pd.Timestamp("2024-02-29"),
        pd.Timestamp("2024-03-01"),
        pd.Timestamp("2024-03-04"),
    ]
    assert history["close"].tolist() == [10.5, 10.6, 10.7]


def test_start_end_inclusive(tmp_path, rows):
    write_plain_csv(tmp_path / "7203.T.csv", rows)

    history = load(tmp_path, "7203.T", start=dt.date(2024, 2, 5), end=dt.date(2024, 2, 7))

    assert list(history.index) == [
        pd.Timestamp("2024-02-05"),
        pd.Timestamp("2024-02-06"),
        pd.Timestamp("2024-02-07"),
    ]


def test_empty_window_is_no_data(tmp_path, rows):
    write_plain_csv(tmp_path / "7203.T.csv", rows)

    result = CsvSource(tmp_path).fetch(["7203"], start=dt.date(2030, 1, 1))

    assert result.histories == {}
    assert type(result.failures["7203.T"]) is NoDataError


def test_unnamed_index_column_loads(tmp_path, rows):
    frame = rows.rename(columns=str.title)
    frame.index.name = None
    frame.to_csv(tmp_path / "7203.T.csv")

    assert len(load(tmp_path, "7203.T")) == len(rows)


def test_date_column_anywhere(tmp_path):
    (tmp_path / "7203.T.csv").write_text(
        "close,volume,DATE,open,high,low\n10,100,2024-03-01,10,11,9\n", encoding="utf-8"
    )

    history = load(tmp_path, "7203.T")

    assert list(history.index) == [pd.Timestamp("2024-03-01")]


@pytest.mark.parametrize("layout", ["plain", "yfinance"])
def test_byte_order_mark_accepted(tmp_path, rows, layout):
    path = tmp_path / "7203.T.csv"
    if layout == "plain":
        write_plain_csv(path, rows)
    else:
        write_yfinance_csv(path, rows, "7203.T")
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())

    history = load(tmp_path, "7203.T")

    assert len(history) == len(rows)


# -- failures -------------------------------------------------------------


def test_missing_directory_names_path_and_fix(tmp_path):
    missing = tmp_path / "no-such-dir"

    with pytest.raises(ConfigError) as info:
        CsvSource(missing)

    message = str(info.value)
    assert str(missing) in message
    assert "[data_source.csv] directory" in message


def test_missing_universe_file_names_path(tmp_path):
    with pytest.raises(ConfigError, match="absent.csv"):
        CsvSource(tmp_path, tmp_path / "absent.csv")


def test_missing_file_is_no_data(tmp_path, rows):
    write_plain_csv(tmp_path / "7203.T.csv", rows)

    result = CsvSource(tmp_path).fetch(["7203", "6758"])

    assert "7203.T" in result.histories
    error = result.failures["6758.T"]
    assert type(error) is NoDataError
    assert "no file 6758.T.csv" in str(error)


@pytest.mark.parametrize(
    ("content", "error_type", "reason"),
    [
        (
            b"Date,Open,High,Low,Close,Volume\n2024-03-01,1,2,1,2,5\n2024-03-04,1,2,1,2,5,7,8,9\n",
            DataFetchError,
            "cannot read",
        ),
        (b"\xff\xfe\x00G\x89\x00\x00\x13garbage\x00\xc3\x28", DataFetchError, "cannot read"),
        (b"", DataFetchError, "cannot read"),
        (b"Date,Open,High,Low,Close,Volume\n", NoDataError, "no rows with a valid date"),
        (b"Open,High,Low,Close,Volume\n1,2,1,2,5\n", NoDataError, "no Date column"),
        (
            b"Date,Open,High,Low,Close,Volume\nnot-a-date,1,2,1,2,5\n",
            NoDataError,
            "no rows with a valid date",
        ),
        (b"Ticker,7203.T,7203.T\nDate,,\n2024-03-01,1,2\n", DataFetchError, "no 'Price' line"),
    ],
    ids=[
        "extra-fields",
        "binary",
        "empty",
        "header-only",
        "no-date-column",
        "bad-dates",
        "ticker-without-price",
    ],
)
def test_corrupt_file_fails_only_its_symbol(tmp_path, rows, content, error_type, reason):
    write_plain_csv(tmp_path / "7203.T.csv", rows)
    (tmp_path / "6758.T.csv").write_bytes(content)

    result = CsvSource(tmp_path).fetch(["7203", "6758"])

    assert list(result.histories) == ["7203.T"]
    error = result.failures["6758.T"]
    assert type(error) is error_type
    assert reason in str(error)


def test_unparseable_prices_fail_at_normalization(tmp_path):
    (tmp_path / "7203.T.csv").write_text(
        "Date,Open,High,Low,Close,Volume\n2024-03-01,n/a,n/a,n/a,n/a,n/a\n", encoding="utf-8"
    )
    raw = CsvSource(tmp_path).fetch(["7203"]).histories["7203.T"]

    with pytest.raises(NoDataError, match="no data for 7203.T"):
        normalize_history(raw, "7203.T")


# -- universe -------------------------------------------------------------


def test_every_file_listed_without_universe(price_dir):
    stocks = CsvSource(price_dir).list_stocks()

    assert [stock.symbol for stock in stocks] == [
        "130A.T",
        "4063.T",
        "6758.T",
        "7203.T",
        "8306.T",
        "9984.T",
    ]
    assert [stock.code for stock in stocks][0] == "130A"
    assert all(stock.name == "" for stock in stocks)


def test_universe_file_selects_and_names(price_dir, caplog):
    universe = price_dir.parent / "universe.csv"
    universe.write_text(
        UNIVERSE_HEADER
        + "7203,7203.T,トヨタ自動車\n130A,130A.T,Veritas In Silico\n1301,1301.T,極洋\n",
        encoding="utf-8",
    )

    with caplog.at_level(logging.INFO, logger="clstock_csv"):
        stocks = CsvSource(price_dir, universe).list_stocks()

    # 6758.T and others have files but are not listed; 1301.T is listed without a file.
    assert {stock.symbol: stock.name for stock in stocks} == {
        "130A.T": "Veritas In Silico",
        "7203.T": "トヨタ自動車",
    }
    assert "1 of 3 stocks" in caplog.text
    assert "1301.T" in caplog.text


def test_universe_file_with_bom_and_codes_only(price_dir):
    universe = price_dir.parent / "universe.csv"
    universe.write_text(
        "\ufeffcode,name\n7203,トヨタ自動車\n130a,Veritas In Silico\n", encoding="utf-8"
    )

    stocks = CsvSource(price_dir, universe).list_stocks()

    assert [(stock.code, stock.name) for stock in stocks] == [
        ("130A", "Veritas In Silico"),
        ("7203", "トヨタ自動車"),
    ]


def test_non_code_files_ignored(tmp_path, rows):
    write_plain_csv(tmp_path / "7203.T.csv", rows)
    for name in ["notes.csv", "0123.csv", "72031.T.csv", "7203_old.csv", "130B.T.csv", "ABCD.csv"]:
        write_plain_csv(tmp_path / name, rows)

    source = CsvSource(tmp_path)

    assert [stock.symbol for stock in source.list_stocks()] == ["7203.T"]
    assert list(source.fetch(["7203"]).histories) == ["7203.T"]


@pytest.mark.parametrize("name", ["130A.T.csv", "130a.t.csv", "130A.csv", "130a.csv"])
def test_letter_code_file_names(tmp_path, rows, name):
    write_plain_csv(tmp_path / name, rows)
    source = CsvSource(tmp_path)

    assert [stock.symbol for stock in source.list_stocks()] == ["130A.T"]
    assert len(source.fetch(["130A"]).histories["130A.T"]) == len(rows)


def test_yahoo_named_file_preferred(tmp_path, rows):
    write_plain_csv(tmp_path / "7203.T.csv", rows)
    write_plain_csv(tmp_path / "7203.csv", rows.iloc[:3])

    history = load(tmp_path, "7203")

    assert len(history) == len(rows)


def test_added_file_found_after_rescan(tmp_path, rows):
    write_plain_csv(tmp_path / "7203.T.csv", rows)
    source = CsvSource(tmp_path)
    assert [stock.symbol for stock in source.list_stocks()] == ["7203.T"]

    write_plain_csv(tmp_path / "6758.T.csv", rows)
    stat = tmp_path.stat()
    os.utime(tmp_path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))

    assert [stock.symbol for stock in source.list_stocks()] == ["6758.T", "7203.T"]


def test_version_tag_follows_file(tmp_path, rows):
    path = tmp_path / "7203.T.csv"
    write_plain_csv(path, rows)
    source = CsvSource(tmp_path)
    before = source.version_tag("7203.T")

    write_plain_csv(path, rows.iloc[:10])
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))

    assert source.version_tag("7203.T") != before
    assert source.version_tag("6758.T") == "missing"
