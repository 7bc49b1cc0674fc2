"""Read daily OHLCV from a directory of ``<ticker>.csv`` files.

A file is found by its TSE code: ``7203.T.csv``, ``7203.csv`` and
``130a.t.csv`` all serve ``7203.T`` or ``130A.T``. Files whose name is not a
TSE code are ignored. :mod:`clstock_csv.reader` describes the accepted
layouts.
"""

from __future__ import annotations

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
from clstock_core.universe import check_universe_file, read_universe_file, stock_list
from clstock_csv.reader import read_price_file

logger = logging.getLogger(__name__)

_SOURCE = "csv"


class CsvSettings(BaseModel):
    """Settings of the ``[data_source.csv]`` table."""

    model_config = ConfigDict(extra="forbid")

    directory: Path = Field(
        description="Directory holding one <ticker>.csv (or <code>.csv) file per stock"
    )
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
        if universe_file is not None:
            check_universe_file(universe_file, _SOURCE)
        self.directory = directory
        self.universe_file = universe_file
        self._file_map: tuple[int, dict[str, Path]] | None = None

    @classmethod
    def from_settings(cls, settings: CsvSettings, app: object = None) -> CsvSource:
        return cls(settings.directory, settings.universe_file)

    # -- universe -----------------------------------------------------------

    def _files(self) -> dict[str, Path]:
        """Map each ticker to its file, rescanning only when the directory changed."""
        try:
            stamp = self.directory.stat().st_mtime_ns
        except OSError as error:
            raise DataFetchError(
                f"csv data source: cannot read directory {str(self.directory)!r}: {error}; "
                f"check [data_source.csv] directory"
            ) from None
        if self._file_map is None or self._file_map[0] != stamp:
            self._file_map = (stamp, self._scan())
        return self._file_map[1]

    def _scan(self) -> dict[str, Path]:
        files: dict[str, Path] = {}
        for path in sorted(self.directory.glob("*.csv")):
            stem = path.name[: -len(".csv")]
            try:
                ticker = parse_symbol(stem).ticker
            except InvalidSymbolError:
                logger.debug("csv data source: ignoring %s, not named after a TSE code", path.name)
                continue
            # Sorted order puts 7203.T.csv before 7203.csv, so the Yahoo-named file wins.
            files.setdefault(ticker, path)
        return files

    def list_stocks(self) -> list[StockInfo]:
        """Return the stocks that have a price file, named from the universe file.

        With a universe file, only the stocks it lists are returned: files
        present but not listed are left out on purpose, and listed stocks
        without a file are logged and left out.
        """
        files = self._files()
        if self.universe_file is None:
            return stock_list(files, {})

        names = read_universe_file(self.universe_file, _SOURCE)
        without_file = [ticker for ticker in names if ticker not in files]
        if without_file:
            logger.info(
                "csv data source: %d of %d stocks in %s have no price file in %s (e.g. %s); "
                "they are left out",
                len(without_file),
                len(names),
                self.universe_file,
                self.directory,
                ", ".join(without_file[:3]),
            )
        return stock_list([ticker for ticker in names if ticker in files], names)

    def version_tag(self, ticker: str) -> str:
        """Change marker of a symbol's file, so the cache notices an edited file."""
        path = self._path(ticker)
        try:
            stat = path.stat() if path is not None else None
        except OSError:  # removed since the directory scan
            stat = None
        if stat is None:
            return "missing"
        return f"{stat.st_mtime_ns}-{stat.st_size}"

    def _path(self, ticker: str) -> Path | None:
        path = self._files().get(parse_symbol(ticker).ticker)
        return path if path is not None and path.is_file() else None

    # -- prices -------------------------------------------------------------

    def fetch(
        self, symbols: Sequence[str], *, start: dt.date | None = None, end: dt.date | None = None
    ) -> FetchResult:
        """Read each symbol's file; a missing or unreadable file fails that symbol only."""
        result = FetchResult()
        for symbol in symbols:
            ticker = parse_symbol(symbol).ticker
            try:
                frame = self._read(ticker)
            except DataFetchError as error:
                result.failures[ticker] = error
                continue

            frame = _between(frame, start, end)
            if frame.empty:
                result.failures[ticker] = NoDataError(
                    ticker, f"no rows between {start or 'the start'} and {end or 'the end'}"
                )
                continue
            result.histories[ticker] = frame
        return result

    def _read(self, ticker: str) -> pd.DataFrame:
        path = self._path(ticker)
        if path is None:
            raise NoDataError(ticker, f"no file {ticker}.csv in {self.directory}")
        return read_price_file(path, ticker)


def _between(frame: pd.DataFrame, start: dt.date | None, end: dt.date | None) -> pd.DataFrame:
    """Select the rows whose date lies in ``[start, end]`` from a tz-naive date index."""
    if start is not None:
        frame = frame[frame.index >= pd.Timestamp(start)]
    if end is not None:
        frame = frame[frame.index <= pd.Timestamp(end)]
    return frame
