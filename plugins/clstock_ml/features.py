"""Model features and training targets, computed for every bar of every symbol at once.

All work runs on bar x symbol matrices in which row ``i`` is bar ``i`` of each
symbol's own history (left-aligned, NaN-padded after the last bar). A stock
that skipped a session therefore has no NaN hole that would blank its rolling
windows for the next 20 or 250 bars: its windows simply span its own bars.
Every indicator is causal (row ``i`` reads rows ``<= i`` only), so the
features of a bar do not change when later bars are added. The test suite
checks this on real data.

Prices are dividend- and split-adjusted with ``adj_close / close`` when the
source provides ``adj_close``, so returns are total returns. The technical
score uses the unadjusted close, as the ``technical`` predictor does.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
from clstock_technical.predictor import TechnicalSettings, combine_signals, signal_matrix

from clstock_core.prices import PricePanel
from clstock_core.prices.indicators import atr, ema, macd, rsi, sma

#: Bumped whenever a feature definition changes, so old model files are rejected.
FEATURE_SET_VERSION = 1

RETURN_HORIZONS = (1, 5, 20, 60, 120, 250)

FEATURE_NAMES: tuple[str, ...] = (
    *(f"ret_{days}" for days in RETURN_HORIZONS),
    "mom_12_1",
    "dist_sma20",
    "dist_sma50",
    "dist_sma200",
    "sma20_vs_sma50",
    "rsi14",
    "macd_line_rel",
    "macd_gap_rel",
    "atr14_rel",
    "vol_20",
    "vol_60",
    "vol_20_vs_60",
    "volume_20_vs_60",
    "volume_5_vs_20",
    "log_traded_value_20",
    "dist_high_250",
    "dist_low_250",
    "range_20",
    "technical_score",
    "technical_trend",
    "technical_rsi",
    "technical_macd",
    "technical_volume",
    "market_ret_20",
    "market_ret_60",
    "market_vol_20",
    "rel_ret_20",
    "rel_ret_60",
)

#: Maximum look-back of any feature, in bars (dist_high_250, ret_250).
LONGEST_WINDOW = 251
#: Bars a prediction recomputes. It covers the longest window, and RSI, ATR
#: and the MACD EMAs forget their seed geometrically: after 600 bars the
#: seed's weight in Wilder's smoothing is (13/14)**600, below 1e-19, so
#: features from this tail equal full-history ones to float32 precision.
PREDICT_WINDOW = LONGEST_WINDOW + 350


class BarLayout:
    """Maps the rows of a panel's long frame to left-aligned bar x symbol matrices.

    ``frame`` must be sorted by symbol then date, as :class:`PricePanel`
    keeps it.
    """

    def __init__(self, frame: pd.DataFrame) -> None:
        codes, uniques = pd.factorize(frame["symbol"], sort=True)
        counts = np.bincount(codes, minlength=len(uniques))
        starts = np.concatenate(([0], np.cumsum(counts)[:-1]))

        self.codes = codes
        self.positions = np.arange(len(codes)) - starts[codes]
        self.symbols = np.asarray([str(symbol) for symbol in uniques], dtype=object)
        self.counts = counts
        self.shape = (int(counts.max()) if len(counts) else 0, len(uniques))
        self.dates = frame["date"].to_numpy()
        self.date_codes, self.unique_dates = pd.factorize(self.dates, sort=True)

    def __len__(self) -> int:
        return len(self.codes)

    def matrix(self, values: np.ndarray) -> np.ndarray:
        """Scatter one value per long row into a float64 bar x symbol matrix."""
        result = np.full(self.shape, np.nan)
        result[self.positions, self.codes] = values
        return result

    def gather(
        self, matrix: np.ndarray | pd.DataFrame, rows: np.ndarray | None = None
    ) -> np.ndarray:
        """Read one value per long row (all rows, or the indices ``rows``) from a matrix."""
        values = matrix.to_numpy() if isinstance(matrix, pd.DataFrame) else matrix
        if rows is None:
            return values[self.positions, self.codes]
        return values[self.positions[rows], self.codes[rows]]

    def date_mean(self, values: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Mean of ``values`` (one per row of ``rows``) over the rows of the same date."""
        codes = self.date_codes[rows]
        frame = pd.Series(values).groupby(codes).transform("mean")
        return frame.to_numpy()


@dataclass
class PriceMatrices:
    """Left-aligned bar x symbol price matrices of one panel."""

    open: pd.DataFrame
    high: pd.DataFrame
    low: pd.DataFrame
    close: pd.DataFrame
    raw_close: pd.DataFrame
    volume: pd.DataFrame

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, layout: BarLayout) -> PriceMatrices:
        close = frame["close"].to_numpy(dtype="float64")
        if "adj_close" in frame.columns:
            factor = frame["adj_close"].to_numpy(dtype="float64") / close
        else:
            factor = np.ones_like(close)

        def adjusted(column: str) -> pd.DataFrame:
            return pd.DataFrame(layout.matrix(frame[column].to_numpy(dtype="float64") * factor))

        return cls(
            open=adjusted("open"),
            high=adjusted("high"),
            low=adjusted("low"),
            close=adjusted("close"),
            raw_close=pd.DataFrame(layout.matrix(close)),
            volume=pd.DataFrame(layout.matrix(frame["volume"].to_numpy(dtype="float64"))),
        )


def forward_returns(prices: PriceMatrices, horizon: int) -> np.ndarray:
    """Return from the next bar's open to the close ``horizon`` bars ahead, per bar.

    This is what a position opened at the next session after the signal and
    held for ``horizon`` bars earns. It is NaN for the last ``horizon`` bars of
    each symbol, whose outcome is not known yet.
    """
    entry = prices.open.shift(-1)
    exit_ = prices.close.shift(-horizon)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (exit_ / entry - 1).to_numpy()


def feature_matrices(prices: PriceMatrices, layout: BarLayout) -> Iterator[tuple[str, np.ndarray]]:
    """Yield ``(name, matrix)`` for each of :data:`FEATURE_NAMES`, in that order.

    Matrices are produced one at a time so that callers can keep only the
    rows they need and bound peak memory on large universes.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        yield from _price_features(prices)
        yield from _technical_features(prices)
        yield from _market_features(prices, layout)


def _price_features(prices: PriceMatrices) -> Iterator[tuple[str, np.ndarray]]:
    close = prices.close

    for days in RETURN_HORIZONS:
        yield f"ret_{days}", (close / close.shift(days) - 1).to_numpy()
    # 12-1 momentum: the year's return without the latest month, whose
    # short-term reversal would otherwise mask it.
    yield "mom_12_1", (close.shift(20) / close.shift(250) - 1).to_numpy()

    sma20, sma50 = sma(close, 20), sma(close, 50)
    yield "dist_sma20", (close / sma20 - 1).to_numpy()
    yield "dist_sma50", (close / sma50 - 1).to_numpy()
    yield "dist_sma200", (close / sma(close, 200) - 1).to_numpy()
    yield "sma20_vs_sma50", (sma20 / sma50 - 1).to_numpy()
    yield "rsi14", rsi(close).to_numpy()

    macd_line, signal_line = macd(close)
    yield "macd_line_rel", (macd_line / close).to_numpy()
    yield "macd_gap_rel", ((macd_line - signal_line) / close).to_numpy()
    yield "atr14_rel", (atr(prices.high, prices.low, close) / close).to_numpy()

    log_returns = np.log(close / close.shift(1))
    vol20 = log_returns.rolling(20, min_periods=20).std()
    vol60 = log_returns.rolling(60, min_periods=60).std()
    yield "vol_20", vol20.to_numpy()
    yield "vol_60", vol60.to_numpy()
    yield "vol_20_vs_60", (vol20 / vol60).to_numpy()

    volume = prices.volume
    yield "volume_20_vs_60", (ema(volume, 20) / sma(volume, 60)).to_numpy()
    yield "volume_5_vs_20", (sma(volume, 5) / sma(volume, 20)).to_numpy()
    # Traded value in yen is a liquidity and size proxy; volume alone is not
    # comparable across price levels.
    traded_value = sma(prices.raw_close * volume, 20)
    yield "log_traded_value_20", np.log1p(traded_value).to_numpy()

    high250 = prices.high.rolling(250, min_periods=250).max()
    low250 = prices.low.rolling(250, min_periods=250).min()
    yield "dist_high_250", (close / high250 - 1).to_numpy()
    yield "dist_low_250", (close / low250 - 1).to_numpy()
    high20 = prices.high.rolling(20, min_periods=20).max()
    low20 = prices.low.rolling(20, min_periods=20).min()
    yield "range_20", ((high20 - low20) / close).to_numpy()


def _technical_features(prices: PriceMatrices) -> Iterator[tuple[str, np.ndarray]]:
    """Yield the ``technical`` predictor's score and signals on every bar (default weights)."""
    signals = signal_matrix(prices.raw_close, prices.volume)
    defaults = TechnicalSettings()
    weights = np.array(
        [defaults.trend_weight, defaults.rsi_weight, defaults.macd_weight, defaults.volume_weight]
    )
    score, _ = combine_signals(signals, weights / weights.sum())
    # combine_signals treats a missing signal as neutral; a bar without a
    # close or before the first full window stays missing for the model.
    score = np.where(np.isfinite(signals["sma50"]), score, np.nan)

    yield "technical_score", score
    yield "technical_trend", signals["trend"]
    yield "technical_rsi", signals["rsi_signal"]
    yield "technical_macd", signals["macd_signal"]
    yield "technical_volume", signals["volume_signal"]


def _market_features(prices: PriceMatrices, layout: BarLayout) -> Iterator[tuple[str, np.ndarray]]:
    """Cross-sectional medians of each session, and returns relative to them.

    The median runs over the symbols of the panel that have a bar on that
    date, all of which are known at that date's close.
    """
    close = prices.close
    ret20 = (close / close.shift(20) - 1).to_numpy()
    ret60 = (close / close.shift(60) - 1).to_numpy()
    vol20 = np.log(close / close.shift(1)).rolling(20, min_periods=20).std().to_numpy()

    market20 = _date_median(ret20, layout)
    market60 = _date_median(ret60, layout)
    yield "market_ret_20", market20
    yield "market_ret_60", market60
    yield "market_vol_20", _date_median(vol20, layout)
    yield "rel_ret_20", ret20 - market20
    yield "rel_ret_60", ret60 - market60


def _date_median(matrix: np.ndarray, layout: BarLayout) -> np.ndarray:
    """Replace each cell with the median over all symbols on the same date."""
    values = layout.gather(matrix)
    medians = pd.Series(values).groupby(layout.date_codes).median().to_numpy()
    per_row = medians[layout.date_codes]
    return layout.matrix(per_row)


def tail_frame(panel: PricePanel, bars: int) -> pd.DataFrame:
    """Return the last ``bars`` rows of each symbol of ``panel``'s long frame."""
    frame = panel.frame
    codes, _ = pd.factorize(frame["symbol"], sort=True)
    counts = np.bincount(codes)
    ends = np.cumsum(counts)
    from_end = ends[codes] - np.arange(len(codes)) - 1
    return frame[from_end < bars].reset_index(drop=True)


def feature_table(panel: PricePanel) -> pd.DataFrame:
    """Compute every feature of every bar as a long frame (``symbol``, ``date``, features).

    Meant for inspection and tests; training gathers only the rows it uses.
    """
    layout = BarLayout(panel.frame)
    prices = PriceMatrices.from_frame(panel.frame, layout)
    columns = {
        name: layout.gather(matrix).astype("float32")
        for name, matrix in feature_matrices(prices, layout)
    }
    table = pd.DataFrame(columns)
    table.insert(0, "date", layout.dates)
    table.insert(0, "symbol", layout.symbols[layout.codes])
    return table


@dataclass
class LatestFeatures:
    """Features of each symbol's latest bar."""

    symbols: np.ndarray
    dates: np.ndarray
    bar_counts: np.ndarray
    values: np.ndarray  # (symbols, features) float32


def latest_features(panel: PricePanel) -> LatestFeatures:
    """Compute the features of every symbol's latest bar.

    Only the last :data:`PREDICT_WINDOW` bars of each symbol are used.
    """
    counts = panel.bar_counts.to_numpy()
    frame = tail_frame(panel, PREDICT_WINDOW)
    layout = BarLayout(frame)
    prices = PriceMatrices.from_frame(frame, layout)

    last_rows = np.flatnonzero(layout.positions == layout.counts[layout.codes] - 1)
    values = np.empty((len(last_rows), len(FEATURE_NAMES)), dtype="float32")
    for column, (_, matrix) in enumerate(feature_matrices(prices, layout)):
        values[:, column] = layout.gather(matrix, last_rows)

    return LatestFeatures(
        symbols=layout.symbols[layout.codes[last_rows]],
        dates=layout.dates[last_rows],
        bar_counts=counts,
        values=values,
    )


#: Bars and symbols of the fixed synthetic panel behind :func:`feature_fingerprint`.
FINGERPRINT_BARS = 320
FINGERPRINT_SYMBOLS = 3


@functools.cache
def feature_fingerprint() -> tuple[float, ...]:
    """Return the features of a fixed synthetic panel's latest bars.

    The ``technical_*`` features come from the ``technical`` predictor's
    code, which can change without :data:`FEATURE_SET_VERSION` changing. A
    model stores this fingerprint, and loading compares it with the current
    one, so a changed feature definition is caught either way.
    """
    rng = np.random.default_rng(20240628)
    dates = pd.bdate_range("2020-01-06", periods=FINGERPRINT_BARS)
    frames = []
    for index in range(FINGERPRINT_SYMBOLS):
        close = 1000 * np.exp(np.cumsum(rng.normal(0.0005 * (index - 1), 0.015, FINGERPRINT_BARS)))
        open_ = close * np.exp(rng.normal(0, 0.004, FINGERPRINT_BARS))
        spread = np.abs(rng.normal(0, 0.006, FINGERPRINT_BARS))
        frames.append(
            pd.DataFrame(
                {
                    "symbol": f"{1000 + index}.T",
                    "date": dates,
                    "open": open_,
                    "high": np.maximum(open_, close) * (1 + spread),
                    "low": np.minimum(open_, close) * (1 - spread),
                    "close": close,
                    "adj_close": close * 0.97,
                    "volume": rng.integers(100_000, 1_000_000, FINGERPRINT_BARS),
                }
            )
        )
    latest = latest_features(PricePanel.from_long(pd.concat(frames, ignore_index=True)))
    return tuple(float(value) for value in latest.values.ravel())
