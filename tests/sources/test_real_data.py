"""The csv and parquet sources on the real TSE data named by CLSTOCK_DATA_DIR."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from clstock_csv.source import CsvSource
from clstock_parquet.source import ParquetSource

from clstock_core.prices import normalize_history
from clstock_core.universe import read_universe_file

pytestmark = pytest.mark.realdata


@pytest.fixture
def csv_source(real_data_dir: Path) -> CsvSource:
    return CsvSource(real_data_dir / "prices", real_data_dir / "symbols.csv")


@pytest.fixture
def parquet_source(real_data_dir: Path) -> ParquetSource:
    path = real_data_dir / "universe-daily.parquet"
    if not path.is_file():
        pytest.skip(f"real-data test: {path.name} is not in the data directory")
    return ParquetSource(path)


def sample_tickers(tickers: list[str]) -> list[str]:
    """A few tickers: the first, the last, one letter code and 7203.T when present."""
    letter_codes = [ticker for ticker in tickers if not ticker[:4].isdigit()]
    chosen = [tickers[0], tickers[-1], *letter_codes[:1]]
    if "7203.T" in tickers:
        chosen.append("7203.T")
    return sorted(set(chosen))


def test_csv_loads_every_file(real_data_dir, csv_source):
    files = sorted(path.name for path in (real_data_dir / "prices").glob("*.T.csv"))
    names = read_universe_file(real_data_dir / "symbols.csv", "csv")

    stocks = csv_source.list_stocks()
    result = csv_source.fetch([stock.symbol for stock in stocks])

    assert len(files) == 250
    assert [f"{stock.symbol}.csv" for stock in stocks] == files
    assert all(stock.name == names[stock.symbol] and stock.name for stock in stocks)
    assert result.failures == {}
    for ticker, raw in result.histories.items():
        history = normalize_history(raw, ticker)
        assert history.index.is_monotonic_increasing, ticker
        assert (history["close"] > 0).all(), ticker


def test_parquet_agrees_with_csv(csv_source, parquet_source):
    tickers = sample_tickers([stock.symbol for stock in csv_source.list_stocks()])
    start = dt.date(2023, 1, 1)

    from_csv = csv_source.fetch(tickers, start=start)
    from_parquet = parquet_source.fetch(tickers, start=start)

    assert from_parquet.failures == {}
    for ticker in tickers:
        csv_history = normalize_history(from_csv.histories[ticker], ticker)
        parquet_history = normalize_history(from_parquet.histories[ticker], ticker)
        assert list(parquet_history.index) == list(csv_history.index), ticker
        assert parquet_history["close"].to_numpy() == pytest.approx(
            csv_history["close"].to_numpy()
        ), ticker
        assert parquet_history["volume"].tolist() == csv_history["volume"].tolist(), ticker


def test_parquet_panel_matches_fetch(parquet_source):
    tickers = sample_tickers([stock.symbol for stock in parquet_source.list_stocks()])

    panel = parquet_source.load_panel(tickers, start=dt.date(2024, 1, 1))
    fetched = parquet_source.fetch(tickers, start=dt.date(2024, 1, 1)).histories

    assert panel.symbols == tickers
    for ticker in tickers:
        expected = normalize_history(fetched[ticker], ticker)
        assert panel.history(ticker)["close"].tolist() == expected["close"].tolist(), ticker
