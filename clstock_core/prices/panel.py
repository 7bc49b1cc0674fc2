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

    @classmethod
    def from_histories(cls, histories: Mapping[str, pd.DataFrame]) -> PricePanel:
        """Build a panel from per-symbol frames that are already normalized."""
        parts = []
        for symbol, history in histories.items():
            part = history.reset_index()
            part.insert(0, "symbol", symbol)
            parts.append(part)
        if not parts:
            return cls.empty()
        frame = pd.concat(parts, ignore_index=True)
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
        codes, uniques = pd.factorize(self.frame["symbol"], sort=True)
        return codes, np.asarray(uniques, dtype=object)

    @cached_property
    def symbols(self) -> list[str]:
        return [str(symbol) for symbol in self._codes[1]]

    @cached_property
    def bar_counts(self) -> pd.Series:
        """Number of bars per symbol."""
        counts = np.bincount(self._codes[0], minlength=len(self._codes[1]))
        return pd.Series(counts, index=self.symbols, name="bars")

    @cached_property
    def last_dates(self) -> pd.Series:
        """Date of each symbol's last bar."""
        last_rows = self.frame.groupby("symbol", sort=True)["date"].max()
        return last_rows.reindex(self.symbols)

    @property
    def as_of(self) -> dt.date | None:
        if self.frame.empty:
            return None
        return pd.Timestamp(self.frame["date"].max()).date()

    def history(self, symbol: str) -> pd.DataFrame:
        """One symbol's bars, indexed by date."""
        rows = self.frame[self.frame["symbol"] == symbol]
        return rows.drop(columns="symbol").set_index("date")

    def subset(self, symbols: Iterable[str]) -> PricePanel:
        wanted = set(symbols)
        return PricePanel(self.frame[self.frame["symbol"].isin(wanted)].reset_index(drop=True))

    def until(self, end: dt.date | pd.Timestamp) -> PricePanel:
        """The panel as it was known at the close of ``end`` (no later bars)."""
        cutoff = pd.Timestamp(end)
        return PricePanel(self.frame[self.frame["date"] <= cutoff].reset_index(drop=True))

    def wide(self, column: str) -> pd.DataFrame:
        """One column as a date x symbol frame; NaN where a symbol has no bar."""
        return self.frame.pivot(index="date", columns="symbol", values=column)

    def tail_matrix(self, columns: Iterable[str], window: int) -> dict[str, np.ndarray]:
        """The last ``window`` bars of each symbol, right-aligned by position.

        Returns one ``(window, n_symbols)`` float array per column, columns in
        :attr:`symbols` order. Row ``window - 1`` is every symbol's latest
        bar, whatever its date, and each symbol's bars are consecutive
        trading days of its own, so rolling and exponential indicators run
        down axis 0 for all symbols at once. Shorter histories are padded
        with NaN at the top.
        """
        codes, uniques = self._codes
        counts = np.bincount(codes, minlength=len(uniques))
        starts = np.concatenate(([0], np.cumsum(counts)[:-1]))

        position = np.arange(len(codes)) - starts[codes]
        from_end = counts[codes] - position - 1
        keep = from_end < window
        rows = window - 1 - from_end[keep]
        cols = codes[keep]

        result = {}
        for column in columns:
            matrix = np.full((window, len(uniques)), np.nan)
            matrix[rows, cols] = self.frame[column].to_numpy(dtype="float64")[keep]
            result[column] = matrix
        return result
