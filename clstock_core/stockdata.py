"""One stock's price history over a period, with its latest indicator values."""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd

from clstock_core.errors import ClStockError
from clstock_core.models import Bar, IndicatorValues, StockData
from clstock_core.prices.indicators import atr, macd, rsi, sma
from clstock_core.symbols import parse_symbol

#: Accepted periods and their length in calendar days; "max" is everything.
PERIOD_DAYS = {"1mo": 31, "3mo": 92, "6mo": 183, "1y": 366, "2y": 731, "5y": 1827, "max": None}
PERIODS = list(PERIOD_DAYS)


class InvalidPeriodError(ClStockError, ValueError):
    code = "invalid_period"


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def period_start(period: str, today: dt.date) -> dt.date | None:
    if period not in PERIOD_DAYS:
        raise InvalidPeriodError(
            f"invalid period {period!r}; accepted values: {', '.join(PERIODS)}"
        )
    days = PERIOD_DAYS[period]
    return None if days is None else today - dt.timedelta(days=days)


def latest_indicators(history: pd.DataFrame) -> IndicatorValues:
    close = history["close"]
    macd_line, signal = macd(close)
    return IndicatorValues(
        sma20=_finite(sma(close, 20).iloc[-1]),
        sma50=_finite(sma(close, 50).iloc[-1]),
        rsi14=_finite(rsi(close).iloc[-1]),
        macd=_finite(macd_line.iloc[-1]),
        macd_signal=_finite(signal.iloc[-1]),
        atr14=_finite(atr(history["high"], history["low"], close).iloc[-1]),
    )


def build_stock_data(engine: object, symbol: str, period: str) -> StockData:
    """Load one stock and summarize ``period`` of it (e.g. ``1y``)."""
    ticker = parse_symbol(symbol).ticker
    stocks = {info.symbol: info for info in engine.stocks()}  # type: ignore[attr-defined]

    # The period is counted back from the last bar, not from today, so
    # offline data that ends in the past still shows a full period.
    history, _stale = engine.stock_history(ticker, None)  # type: ignore[attr-defined]
    last_date = history.index[-1].date()
    start = period_start(period, last_date)
    shown = history if start is None else history[history.index >= pd.Timestamp(start)]

    first_close = float(shown["close"].iloc[0])
    last_close = float(shown["close"].iloc[-1])
    bars = [
        Bar(
            date=index.date(),
            open=row.open,
            high=row.high,
            low=row.low,
            close=row.close,
            volume=int(row.volume),
        )
        for index, row in zip(shown.index, shown.itertuples(index=False), strict=True)
    ]
    return StockData(
        symbol=ticker,
        code=parse_symbol(ticker).code,
        company_name=stocks[ticker].name if ticker in stocks else "",
        period=period,
        as_of=last_date,
        bars=bars,
        indicators=latest_indicators(history),
        price_change=round(last_close - first_close, 4),
        percent_change=round((last_close - first_close) / first_close * 100, 4),
    )
