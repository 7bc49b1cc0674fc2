"""Read daily OHLCV from ``<directory>/<ticker>.csv`` files.

Two layouts are accepted: a plain CSV with one header line (``Date, Open,
High, Low, Close, [Adj Close,] Volume`` in any order and case), and the three
header lines that ``yfinance.download(...).to_csv()`` writes::

    Price,Adj Close,Close,High,Low,Open,Volume
    Ticker,7203.T,7203.T,7203.T,7203.T,7203.T,7203.T
    Date,,,,,,
"""

from __future__ import annotations

import csv
import datetime as dt
import logging
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from clstock_core.errors import ConfigError, DataFetchError, InvalidSymbolError, NoDataError
from clstock_core.models import StockInfo
from clstock_core.roles import FetchResult
from clstock_core.symbols import parse_symbol

logger = logging.getLogger(__name__)


class CsvSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    directory: Path = Field(description="Directory holding one <ticker>.csv (or <code>.csv) file per stock")
    universe_file: Path | None = Field(
        default=None,
        description="CSV with columns code,symbol,name; default: every file in the directory",
    )


class CsvSource:
    """A data source over a directory of CSV files."""

    def __init__(self, directory: Path, universe_file: Path | None = None) -> None:
        if not directory.is_dir():
            raise ConfigError(
                f"csv data source: directory {str(directory)!r} does not exist; set "
                f"[data_source.csv] directory to the folder holding the price files"
            )
        if universe_file is not None and not universe_file.is_file():
            raise ConfigError(
                f"csv data source: universe file {str(universe_file)!r} does not exist; fix "
                f"[data_source.csv] universe_file or remove it to use every file present"
            )
        self.directory = directory
        self.universe_file = universe_file

    @classmethod
    def from_settings(cls, settings: CsvSettings, app: object = None) -> CsvSource:
        return cls(settings.directory, settings.universe_file)

    # -- universe -----------------------------------------------------------

    def _files(self) -> dict[str, Path]:
        files = {}
        for path in sorted(self.directory.glob("*.csv")):
            stem = path.name[: -len(".csv")]
            try:
                files[parse_symbol(stem).ticker] = path
            except InvalidSymbolError:
                logger.debug("csv data source: ignoring %s, not named after a TSE code", path.name)
        return files

    def list_stocks(self) -> list[StockInfo]:
        files = self._files()
        names = self._names() if self.universe_file else {}
        if self.universe_file:
            # The universe file lists which stocks to rank; files that are
            # present but not listed are left out on purpose.
            tickers = sorted(t for t in names if t in files)
        else:
            tickers = sorted(files)
        return [
            StockInfo(code=parse_symbol(t).code, symbol=t, name=names.get(t, "")) for t in tickers
        ]

    def _names(self) -> dict[str, str]:
        assert self.universe_file is not None
        names = {}
        with self.universe_file.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            missing = {"code", "name"} - set(reader.fieldnames or [])
            if missing:
                raise ConfigError(
                    f"universe file {str(self.universe_file)!r} lacks column(s) "
                    f"{', '.join(sorted(missing))}; expected a header 'code,symbol,name'"
                )
            for line, row in enumerate(reader, start=2):
                try:
                    ticker = parse_symbol(row.get("symbol") or row["code"]).ticker
                except InvalidSymbolError as error:
                    logger.warning("universe file %s line %d: %s; skipped", self.universe_file, line, error)
                    continue
                names[ticker] = (row.get("name") or "").strip()
        return names

    def version_tag(self, ticker: str) -> str:
        """Change marker of a symbol's file, so the cache notices an edited file."""
        path = self._path(ticker)
        if path is None:
            return "missing"
        stat = path.stat()
        return f"{stat.st_mtime_ns}-{stat.st_size}"

    def _path(self, ticker: str) -> Path | None:
        code = parse_symbol(ticker).code
        for name in (f"{code}.T.csv", f"{code}.csv", f"{code.lower()}.t.csv"):
            path = self.directory / name
            if path.is_file():
                return path
        return None

    # -- prices -------------------------------------------------------------

    def fetch(
        self, symbols: Sequence[str], *, start: dt.date | None = None, end: dt.date | None = None
    ) -> FetchResult:
        result = FetchResult()
        for symbol in symbols:
            ticker = parse_symbol(symbol).ticker
            try:
                frame = self._read(ticker)
            except DataFetchError as error:
                result.failures[ticker] = error
                continue
            if start is not None:
                frame = frame[frame.index >= pd.Timestamp(start)]
            if end is not None:
                frame = frame[frame.index <= pd.Timestamp(end)]
            result.histories[ticker] = frame
        return result

    def _read(self, ticker: str) -> pd.DataFrame:
        path = self._path(ticker)
        if path is None:
            raise NoDataError(ticker, f"no file {ticker}.csv in {self.directory}")
        try:
            with path.open(encoding="utf-8-sig") as handle:
                first = handle.readline()
            header_lines = 3 if first.lower().startswith("price,") else 1
            frame = pd.read_csv(path, header=0, skiprows=range(1, header_lines), encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
            raise DataFetchError(f"cannot read {path}: {error}; check that it is a CSV price file") from None

        frame.columns = [str(c).strip() for c in frame.columns]
        first_column = frame.columns[0]
        if first_column.lower() in {"price", "date", "datetime"}:
            frame = frame.rename(columns={first_column: "date"})
        else:
            raise NoDataError(ticker, f"{path.name} has no Date column; expected a header starting with 'Date'")
        frame["date"] = pd.to_datetime(frame["date"], errors="coerce", utc=False, format="mixed")
        frame = frame.dropna(subset=["date"]).set_index("date")
        return frame
