"""The normalized price history of a whole universe, for vectorized work."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from functools import cached_property

import numpy as np
import pandas as pd

from clstock_core.prices.normalize import normalize_long


class PricePanel:
    """Normalized daily bars of many symbols in one long frame.

    ``frame`` has columns ``symbol, date, open, high, low, close, volume``
    (and ``adj_close`` when the source has it), sorted by symbol then date,
    as :func:`normalize_long` returns it. Predictors read it through
    :meth:`tail_matrix` or :meth:`wide` to compute over all symbols at once.
    """

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame
        self._tail_indexes: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    @classmethod
    def from_histories(cls, histories: Mapping[str, pd.DataFrame]) -> PricePanel:
        """Build a panel from per-symbol frames that are already normalized."""
        if not histories:
            return cls.empty()

        # Concatenating numpy columns is about 3 times faster than reset_index,
        # insert and pd.concat on hundreds of small frames (250 stocks of 300
        # bars, pandas 3.1).
        symbols = sorted(histories)
        parts = [histories[symbol] for symbol in symbols]
        columns = list(dict.fromkeys(column for part in parts for column in part.columns))
        data = {
            # Repeating an Index keeps pandas from re-inferring the string
            # dtype of every row, which costs more than the rest together.
            "symbol": pd.Index(symbols).repeat([len(part) for part in parts]),
            "date": np.concatenate([part.index.to_numpy() for part in parts]),
        }
        # Iterating columns avoids a label lookup per column and stock.
        arrays = [dict(part.items()) for part in parts]
        for column in columns:
            pieces = []
            for part, by_name in zip(parts, arrays, strict=True):
                # A source without ``adj_close`` gets NaN there, as pd.concat gives.
                series = by_name.get(column)
                pieces.append(np.full(len(part), np.nan) if series is None else series.to_numpy())
            data[column] = np.concatenate(pieces)
        frame = pd.DataFrame(data)

        # Normalized histories are sorted by date; sort only if one is not.
        if not all(part.index.is_monotonic_increasing for part in parts):
            frame = frame.sort_values(["symbol", "date"], kind="stable", ignore_index=True)
        return cls(frame)

    @classmethod
    def from_long(cls, frame: pd.DataFrame) -> PricePanel:
        """Normalize a raw long frame (``symbol, date, open, ...``) into a panel."""
        return cls(normalize_long(frame))

    @classmethod
    def empty(cls) -> PricePanel:
        columns = ["symbol", "date", "open", "high", "low", "close", "volume"]
        return cls(pd.DataFrame({column: [] for column in columns}))

    def __len__(self) -> int:
        return len(self.symbols)

    @cached_property
    def _codes(self) -> tuple[np.ndarray, np.ndarray]:
        """Symbol code of every row, and the symbols in sorted order."""
        values = self.frame["symbol"].array
        if len(values) == 0:
            return np.zeros(0, dtype=np.intp), np.asarray([], dtype=object)

        # The frame is sorted by symbol, so each new symbol starts a run.
        # Finding the run starts is several times faster than factorizing
        # millions of strings.
        starts = np.ones(len(values), dtype=bool)
        starts[1:] = np.asarray(values[1:] != values[:-1], dtype=bool)
        uniques = np.asarray(values[np.flatnonzero(starts)], dtype=object)
        if all(a < b for a, b in zip(uniques[:-1], uniques[1:], strict=True)):
            return np.cumsum(starts) - 1, uniques

        codes, sorted_uniques = pd.factorize(self.frame["symbol"], sort=True)
        return codes, np.asarray(sorted_uniques, dtype=object)

    @cached_property
    def symbols(self) -> list[str]:
        return [str(symbol) for symbol in self._codes[1]]

    @cached_property
    def _blocks(self) -> tuple[np.ndarray, np.ndarray]:
        """Bar count and first row of each symbol's block of rows, in :attr:`symbols` order."""
        counts = np.bincount(self._codes[0], minlength=len(self._codes[1]))
        starts = np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.int64)
        return counts, starts

    @cached_property
    def bar_counts(self) -> pd.Series:
        """Number of bars per symbol."""
        return pd.Series(self._blocks[0], index=self.symbols, name="bars")

    @cached_property
    def last_dates(self) -> pd.Series:
        """Date of each symbol's last bar."""
        dates = self.frame["date"].to_numpy()
        if len(self) == 0:
            return pd.Series(dates[:0], index=pd.Index([], dtype=object), name="date")
        # Each symbol's rows are one contiguous block (the frame is sorted by
        # symbol), so a max per block needs no groupby.
        last = np.maximum.reduceat(dates, self._blocks[1])
        return pd.Series(last, index=self.symbols, name="date")

    @property
    def as_of(self) -> dt.date | None:
        if self.frame.empty:
            return None
        return pd.Timestamp(self.frame["date"].max()).date()

    def history(self, symbol: str) -> pd.DataFrame:
        """Return one symbol's bars, indexed by date."""
        rows = self.frame[self.frame["symbol"] == symbol]
        return rows.drop(columns="symbol").set_index("date")

    def subset(self, symbols: Iterable[str]) -> PricePanel:
        kept = self.frame["symbol"].isin(set(symbols))
        return PricePanel(self.frame[kept].reset_index(drop=True))

    def until(self, end: dt.date | pd.Timestamp) -> PricePanel:
        """Return the panel as it was known at the close of ``end``, without later bars."""
        cutoff = pd.Timestamp(end)
        return PricePanel(self.frame[self.frame["date"] <= cutoff].reset_index(drop=True))

    def wide(self, column: str) -> pd.DataFrame:
        """Return one column as a date x symbol frame, NaN where a symbol has no bar."""
        return self.frame.pivot(index="date", columns="symbol", values=column)

    def tail_matrix(self, columns: Iterable[str], window: int) -> dict[str, np.ndarray]:
        """Return the last ``window`` bars of each symbol, right-aligned by position.

        Returns one ``(window, n_symbols)`` float array per column, columns in
        :attr:`symbols` order. Row ``window - 1`` is every symbol's latest
        bar, whatever its date, and each symbol's bars are consecutive
        trading days of its own, so rolling and exponential indicators run
        down axis 0 for all symbols at once. Shorter histories are padded
        with NaN at the top.
        """
        frame_rows, rows, cols = self._tail_index(window)
        result = {}
        for column in columns:
            matrix = np.full((window, len(self)), np.nan)
            matrix[rows, cols] = self.frame[column].to_numpy()[frame_rows].astype("float64")
            result[column] = matrix
        return result

    def _tail_index(self, window: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Frame row, matrix row and matrix column of each bar that :meth:`tail_matrix` keeps."""
        if window not in self._tail_indexes:
            counts, starts = self._blocks
            taken = np.minimum(counts, window)

            # Index arrays over the kept bars only (at most ``window`` per
            # symbol), not over every row of the long frame.
            cols = np.repeat(np.arange(len(counts)), taken)
            offset = np.arange(int(taken.sum())) - np.repeat(np.cumsum(taken) - taken, taken)
            frame_rows = np.repeat(starts + counts - taken, taken) + offset
            rows = np.repeat(window - taken, taken) + offset
            self._tail_indexes[window] = (frame_rows, rows, cols)
        return self._tail_indexes[window]
