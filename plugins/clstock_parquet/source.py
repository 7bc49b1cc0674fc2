"""Read daily OHLCV of many stocks from one long-format parquet file.

The file has one row per stock and trading day, with columns ``symbol``,
``date``, ``open``, ``high``, ``low``, ``close``, ``volume`` and optionally
``adj_close``. ``symbol`` contains Yahoo tickers (``7203.T``) or TSE codes
(``7203``), and ``date`` is a date or a timestamp, tz-aware or naive.

Reads go through pyarrow and select only the requested symbols and dates,
so a file sorted by symbol, as ``universe-daily.parquet`` is, skips the row
groups of other stocks by their statistics.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict, Field

from clstock_core.errors import ConfigError, DataFetchError, InvalidSymbolError, NoDataError
from clstock_core.models import StockInfo
from clstock_core.prices.normalize import EXCHANGE_TZ, exchange_dates
from clstock_core.prices.panel import PricePanel
from clstock_core.roles import FetchResult
from clstock_core.symbols import parse_symbol
from clstock_core.universe import check_universe_file, read_universe_file, stock_list

logger = logging.getLogger(__name__)

_SOURCE = "parquet"
REQUIRED_COLUMNS = ["symbol", "date", "open", "high", "low", "close", "volume"]
OPTIONAL_COLUMNS = ["adj_close"]


class ParquetSettings(BaseModel):
    """Settings of the ``[data_source.parquet]`` table."""

    model_config = ConfigDict(extra="forbid")

    path: Path = Field(
        description="Long-format parquet file with columns symbol, date, open, high, low, "
        "close, volume and optionally adj_close"
    )
    universe_file: Path | None = Field(
        default=None,
        description="CSV with columns code,symbol,name; default: every symbol in the file",
    )


class ParquetSource:
    """A data source over one long-format parquet file."""

    def __init__(self, path: Path, universe_file: Path | None = None) -> None:
        if not path.is_file():
            raise ConfigError(
                f"parquet data source: file {str(path)!r} does not exist; set "
                f"[data_source.parquet] path to the long-format price file"
            )
        if universe_file is not None:
            check_universe_file(universe_file, _SOURCE)
        self.path = path
        self.universe_file = universe_file
        self._lock = threading.Lock()
        self._state: _FileState | None = None
        self._file_state()

    @classmethod
    def from_settings(cls, settings: ParquetSettings, app: object = None) -> ParquetSource:
        return cls(settings.path, settings.universe_file)

    # -- file ---------------------------------------------------------------

    def _file_state(self) -> _FileState:
        """Return the opened dataset and its symbols, reopening the file when it changed."""
        try:
            stat = self.path.stat()
        except OSError as error:
            raise DataFetchError(
                f"parquet data source: cannot read {str(self.path)!r}: {error}; "
                f"check [data_source.parquet] path"
            ) from None
        version = f"{stat.st_mtime_ns}-{stat.st_size}"
        with self._lock:
            if self._state is None:
                self._state = _FileState.open(self.path, version)
            elif self._state.version != version:
                self._state = self._reopen(version)
            return self._state

    def _reopen(self, version: str) -> _FileState:
        try:
            return _FileState.open(self.path, version)
        except ConfigError as error:
            # The file was valid at startup and has been replaced since. A
            # fetch error fails this load instead of stopping the whole process.
            raise DataFetchError(str(error)) from None

    def version_tag(self, ticker: str) -> str:
        """Change marker of the file, so the cache notices a replaced file."""
        return self._file_state().version

    # -- universe -----------------------------------------------------------

    def list_stocks(self) -> list[StockInfo]:
        """Return the stocks in the file, restricted to the universe file if set.

        Stocks listed in the universe file but absent from the parquet file
        are logged and left out.
        """
        present = self._file_state().tickers
        if self.universe_file is None:
            return stock_list(present, {})

        names = read_universe_file(self.universe_file, _SOURCE)
        absent = [ticker for ticker in names if ticker not in present]
        if absent:
            logger.info(
                "parquet data source: %d of %d stocks in %s are not in %s (e.g. %s); "
                "they are left out",
                len(absent),
                len(names),
                self.universe_file,
                self.path,
                ", ".join(absent[:3]),
            )
        return stock_list([ticker for ticker in names if ticker in present], names)

    # -- prices -------------------------------------------------------------

    def fetch(
        self, symbols: Sequence[str], *, start: dt.date | None = None, end: dt.date | None = None
    ) -> FetchResult:
        """Read the bars of ``symbols`` between ``start`` and ``end``, both inclusive."""
        state = self._file_state()
        tickers = list(dict.fromkeys(parse_symbol(symbol).ticker for symbol in symbols))
        result = FetchResult()

        for ticker in tickers:
            if ticker not in state.tickers:
                result.failures[ticker] = NoDataError(ticker, f"not in {self.path.name}")
        present = [ticker for ticker in tickers if ticker in state.tickers]
        if not present:
            return result

        frame = state.read(present, start, end)
        groups = dict(iter(frame.groupby("symbol", sort=False, observed=True)))
        for ticker in present:
            rows = groups.get(ticker)
            if rows is None or rows.empty:
                result.failures[ticker] = NoDataError(
                    ticker, f"no rows between {start or 'the start'} and {end or 'the end'}"
                )
                continue
            result.histories[ticker] = rows.drop(columns="symbol")
        return result

    def load_panel(
        self,
        symbols: Sequence[str] | None = None,
        *,
        start: dt.date | None = None,
        end: dt.date | None = None,
    ) -> PricePanel:
        """Read and normalize the bars of ``symbols`` (default: all) in one pass.

        Symbols without a valid bar are absent from the panel. Raises
        :class:`~clstock_core.errors.InvalidSymbolError` for an invalid
        symbol, like :meth:`fetch`.
        """
        state = self._file_state()
        if symbols is None:
            tickers = None
        else:
            requested = dict.fromkeys(parse_symbol(symbol).ticker for symbol in symbols)
            tickers = [ticker for ticker in requested if ticker in state.tickers]
        return PricePanel.from_long(state.read(tickers, start, end).reset_index())


class _FileState:
    """One version of the parquet file: its dataset, column types and symbols."""

    def __init__(
        self, path: Path, version: str, dataset: ds.Dataset, tickers_by_value: dict[str, str]
    ) -> None:
        self.path = path
        self.version = version
        self.dataset = dataset
        #: Each valid value of the ``symbol`` column -> its Yahoo ticker.
        self.tickers_by_value = tickers_by_value
        self.tickers = frozenset(tickers_by_value.values())
        self._values_are_tickers = all(
            ticker == value for value, ticker in tickers_by_value.items()
        )
        schema = dataset.schema
        self.columns = REQUIRED_COLUMNS + [c for c in OPTIONAL_COLUMNS if c in schema.names]
        self.date_type = schema.field("date").type

    @classmethod
    def open(cls, path: Path, version: str) -> _FileState:
        try:
            dataset = ds.dataset(path, format="parquet")
            _check_columns(path, dataset.schema)
            distinct = _distinct_symbols(path)
        except (OSError, pa.ArrowException) as error:
            raise ConfigError(
                f"parquet data source: cannot read {str(path)!r} as parquet: {error}; "
                f"set [data_source.parquet] path to a long-format parquet price file"
            ) from None
        return cls(path, version, dataset, _ticker_map(path, distinct))

    def read(
        self, tickers: Sequence[str] | None, start: dt.date | None, end: dt.date | None
    ) -> pd.DataFrame:
        """Read the rows of ``tickers`` (None: all) between the dates.

        Returns columns ``symbol`` (Yahoo tickers) and the price columns,
        indexed by tz-naive exchange-local ``date``.
        """
        condition = _date_condition(self.date_type, start, end)
        if tickers is not None:
            requested = set(tickers)
            values = [
                value for value, ticker in self.tickers_by_value.items() if ticker in requested
            ]
            by_symbol = pc.field("symbol").isin(pa.array(values, type=pa.string()))
            condition = by_symbol if condition is None else by_symbol & condition

        try:
            table = self.dataset.to_table(columns=self.columns, filter=condition)
        except (OSError, pa.ArrowException) as error:
            raise DataFetchError(
                f"parquet data source: cannot read {self.path}: {error}; "
                f"check that the file is a complete parquet file"
            ) from None

        frame = table.to_pandas()
        frame["symbol"] = self._tickers_of(frame["symbol"])
        frame = frame[frame["symbol"].notna()]
        dates = exchange_dates(pd.Index(frame.pop("date")))
        frame = frame.set_index(dates.rename("date"))
        return _between(frame, start, end)

    def _tickers_of(self, values: pd.Series) -> pd.Series:
        """Map stored symbol values to Yahoo tickers; NaN for invalid ones."""
        if self._values_are_tickers:
            return values.where(values.isin(list(self.tickers_by_value)))
        return values.map(self.tickers_by_value)


def _check_columns(path: Path, schema: pa.Schema) -> None:
    missing = [column for column in REQUIRED_COLUMNS if column not in schema.names]
    if missing:
        raise ConfigError(
            f"parquet data source: {str(path)!r} lacks column(s) {', '.join(missing)} "
            f"(it has {', '.join(schema.names)}); expected a long-format file with columns "
            f"{', '.join(REQUIRED_COLUMNS)} and optionally adj_close"
        )


def _distinct_symbols(path: Path) -> list[str | None]:
    # Reading the column dictionary-encoded returns each row group's distinct
    # values, which is several times faster than decoding every row.
    table = pq.read_table(path, columns=["symbol"], read_dictionary=["symbol"])
    chunks = [chunk.dictionary.cast(pa.string()) for chunk in table.column("symbol").chunks]
    if not chunks:
        return []
    return pc.unique(pa.chunked_array(chunks, type=pa.string())).to_pylist()


def _ticker_map(path: Path, values: list[str | None]) -> dict[str, str]:
    """Map each valid symbol value to its Yahoo ticker: ``7203`` and ``7203.T`` to ``7203.T``."""
    tickers_by_value: dict[str, str] = {}
    invalid = 0
    for value in values:
        try:
            tickers_by_value[str(value)] = parse_symbol(value).ticker
        except InvalidSymbolError:
            invalid += 1
    if invalid:
        logger.warning(
            "parquet data source: %s has %d symbol values that are not TSE codes; "
            "their rows are ignored",
            path,
            invalid,
        )
    return tickers_by_value


def _date_condition(
    date_type: pa.DataType, start: dt.date | None, end: dt.date | None
) -> pc.Expression | None:
    """Build a pyarrow filter on ``date`` for ``[start, end]``, or None for unordered types.

    Timestamps are compared as Tokyo midnights, so that a tz-aware column
    (stored as UTC instants) selects whole Tokyo trading days.
    """
    if not (pa.types.is_timestamp(date_type) or pa.types.is_date(date_type)):
        return None

    def bound(day: dt.date) -> pa.Scalar:
        if pa.types.is_date(date_type):
            return pa.scalar(day, type=date_type)
        midnight = pd.Timestamp(day)
        if date_type.tz is not None:
            midnight = midnight.tz_localize(EXCHANGE_TZ)
        return pa.scalar(midnight.to_pydatetime(), type=date_type)

    condition = None
    if start is not None:
        condition = pc.field("date") >= bound(start)
    if end is not None:
        upper = pc.field("date") < bound(end + dt.timedelta(days=1))
        condition = upper if condition is None else condition & upper
    return condition


def _between(frame: pd.DataFrame, start: dt.date | None, end: dt.date | None) -> pd.DataFrame:
    """Select the rows whose exchange-local date lies in ``[start, end]``.

    pyarrow already filtered typed dates; this also covers a date column
    stored as text, which pyarrow cannot compare.
    """
    if start is not None:
        frame = frame[frame.index >= pd.Timestamp(start)]
    if end is not None:
        frame = frame[frame.index <= pd.Timestamp(end)]
    return frame
