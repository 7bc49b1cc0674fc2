"""Synthetic universes with a planted, learnable cross-sectional signal."""

from __future__ import annotations

import numpy as np
import pandas as pd

from clstock_core.prices import PricePanel


def planted_frame(
    symbols: int = 40, days: int = 520, *, seed: int = 0, start: str = "2019-01-04"
) -> pd.DataFrame:
    """A long OHLCV frame whose stocks keep their drift for 60-session blocks.

    Past returns therefore predict the next 20 sessions' relative return,
    which a working model must pick up.
    """
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range(start, periods=days)
    blocks = -(-days // 60)
    drift = np.repeat(rng.normal(0, 0.004, (blocks, symbols)), 60, axis=0)[:days]
    returns = drift + rng.normal(0, 0.012, (days, symbols))
    close = 1000 * np.exp(np.cumsum(returns, axis=0))
    open_ = np.vstack([close[:1], close[:-1]]) * np.exp(rng.normal(0, 0.003, (days, symbols)))
    high = np.maximum(open_, close) * (1 + np.abs(rng.normal(0, 0.004, (days, symbols))))
    low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0, 0.004, (days, symbols))))
    volume = rng.integers(50_000, 500_000, (days, symbols))

    tickers = [f"{1000 + index}.T" for index in range(symbols)]
    frame = pd.DataFrame(
        {
            "symbol": np.repeat(tickers, days),
            "date": np.tile(dates, symbols),
            "open": open_.T.ravel(),
            "high": high.T.ravel(),
            "low": low.T.ravel(),
            "close": close.T.ravel(),
            "adj_close": close.T.ravel() * 0.98,
            "volume": volume.T.ravel(),
        }
    )
    return frame


def planted_panel(symbols: int = 40, days: int = 520, *, seed: int = 0) -> PricePanel:
    return PricePanel.from_long(planted_frame(symbols, days, seed=seed))
