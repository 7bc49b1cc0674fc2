"""Synthetic price data for tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def make_ohlcv(
    days: int,
    *,
    seed: int = 0,
    drift: float = 0.0,
    start: str = "2023-01-04",
    price: float = 1000.0,
) -> pd.DataFrame:
    """A random-walk daily OHLCV frame on business days, index named ``date``."""
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range(start, periods=days, name="date")
    returns = rng.normal(drift, 0.015, days)
    close = price * np.exp(np.cumsum(returns))
    open_ = close * (1 + rng.normal(0, 0.004, days))
    high = np.maximum(open_, close) * (1 + np.abs(rng.normal(0, 0.006, days)))
    low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0, 0.006, days)))
    volume = rng.integers(100_000, 2_000_000, days)
    return pd.DataFrame(
        {
            "open": open_,
            "high": high,
            "low": low,
            "close": close,
            "adj_close": close * 0.97,
            "volume": volume,
        },
        index=dates,
    )


def write_plain_csv(path: Path, frame: pd.DataFrame) -> None:
    """One header line: Date,Open,High,Low,Close,Adj Close,Volume."""
    out = frame.rename(
        columns={
            "open": "Open",
            "high": "High",
            "low": "Low",
            "close": "Close",
            "adj_close": "Adj Close",
            "volume": "Volume",
        }
    )
    out.index.name = "Date"
    out.to_csv(path)


def write_yfinance_csv(path: Path, frame: pd.DataFrame, ticker: str) -> None:
    """The three header lines that ``yfinance.download(...).to_csv()`` writes."""
    columns = ["Adj Close", "Close", "High", "Low", "Open", "Volume"]
    source = {
        "Adj Close": "adj_close",
        "Close": "close",
        "High": "high",
        "Low": "low",
        "Open": "open",
        "Volume": "volume",
    }
    lines = [
        "Price," + ",".join(columns),
        "Ticker," + ",".join([ticker] * len(columns)),
        "Date," + "," * (len(columns) - 1),
    ]
    for date, row in frame.iterrows():
        values = [
            repr(float(row[source[c]])) if c != "Volume" else str(int(row["volume"]))
            for c in columns
        ]
        lines.append(f"{date:%Y-%m-%d}," + ",".join(values))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
