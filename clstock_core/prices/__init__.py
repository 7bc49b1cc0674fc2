"""Price history: normalization, the universe panel and technical indicators."""

from clstock_core.prices.normalize import (
    OHLCV_COLUMNS,
    normalize_history,
    normalize_long,
    normalize_many,
)
from clstock_core.prices.panel import PricePanel

__all__ = ["OHLCV_COLUMNS", "PricePanel", "normalize_history", "normalize_long", "normalize_many"]
