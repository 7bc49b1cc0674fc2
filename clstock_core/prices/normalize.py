"""Bring any source's daily bars into one shape before indicators see them.

The normalized frame has a tz-naive ``DatetimeIndex`` named ``date`` holding
exchange-local trading dates, sorted, one row per date, float prices
(``open, high, low, close`` and ``adj_close`` when the source has it) and an
``int64`` ``volume``. Every value is finite.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np
import pandas as pd

from clstock_core.errors import NoDataError

logger = logging.getLogger(__name__)

EXCHANGE_TZ = "Asia/Tokyo"
# No TSE share has traded near 100 million yen, nor a day near 10 trillion
# shares; values beyond these are corrupt input.
MAX_PRICE = 1e8
MAX_VOLUME = 1e13
OHLCV_COLUMNS = ["open", "high", "low", "close", "volume"]
PRICE_COLUMNS = ["open", "high", "low", "close"]

_ALIASES = {
    "adj close": "adj_close",
    "adjclose": "adj_close",
    "adj_close": "adj_close",
    "date": "date",
    "datetime": "date",
}


def _column_name(name: object) -> str:
    text = str(name).strip().lower()
    return _ALIASES.get(text, text.replace(" ", "_"))


def exchange_dates(index: pd.Index) -> pd.DatetimeIndex:
    """Convert to tz-naive exchange-local midnight dates.

    A bar stamped 2024-03-01 00:00+09:00 is the 2024-03-01 session: converting
    to Tokyo time before dropping the zone keeps it from becoming 02-29 UTC.
    """
    dates = pd.DatetimeIndex(pd.to_datetime(index))
    if dates.tz is not None:
        dates = dates.tz_convert(EXCHANGE_TZ).tz_localize(None)
    return dates.normalize()


def normalize_history(frame: pd.DataFrame, symbol: str) -> pd.DataFrame:
    """Return one symbol's ``frame`` normalized, indexed by ``date``.

    Raises :class:`NoDataError` if no valid bar remains.
    """
    histories, failures = normalize_many({symbol: frame})
    if symbol in failures:
        raise failures[symbol]
    return histories[symbol]


def normalize_many(
    frames: Mapping[str, pd.DataFrame],
) -> tuple[dict[str, pd.DataFrame], dict[str, NoDataError]]:
    """Normalize many symbols' frames in one vectorized pass.

    Returns the normalized frames, indexed by ``date``, and a
    :class:`NoDataError` for each symbol with no valid bar or a missing
    column. One pass over the concatenated rows costs about as much as
    normalizing a single symbol, because pandas' per-call overhead dominates
    frames of a few thousand rows.
    """
    parts: list[pd.DataFrame] = []
    failures: dict[str, NoDataError] = {}
    has_adjusted: dict[str, bool] = {}
    for symbol, frame in frames.items():
        try:
            part = _with_symbol(frame, symbol)
        except NoDataError as error:
            failures[symbol] = error
            continue
        has_adjusted[symbol] = "adj_close" in part.columns
        parts.append(part)

    histories: dict[str, pd.DataFrame] = {}
    if parts:
        long = normalize_long(pd.concat(parts, ignore_index=True))
        histories = _split_by_symbol(long, has_adjusted)

    for symbol in has_adjusted:
        if symbol not in histories:
            failures[symbol] = NoDataError(symbol, "no valid daily bars")
    return histories, failures


def _with_symbol(frame: pd.DataFrame, symbol: str) -> pd.DataFrame:
    """Return ``frame``'s OHLCV columns as floats, with ``date`` and ``symbol`` columns.

    Works on the underlying arrays, because this runs once per symbol and
    pandas' per-call overhead would otherwise dominate.
    """
    names = {_column_name(column): column for column in frame.columns}
    missing = [column for column in OHLCV_COLUMNS if column not in names]
    if missing:
        raise NoDataError(symbol, f"the source returned no {', '.join(missing)} column")

    # Dates are converted per frame, because frames in different time zones
    # cannot share one datetime column.
    raw_dates = frame[names["date"]] if "date" in names else frame.index
    columns: dict[str, object] = {"date": exchange_dates(pd.Index(raw_dates))}
    for column in OHLCV_COLUMNS + (["adj_close"] if "adj_close" in names else []):
        values = frame[names[column]]
        if values.dtype.kind not in "fiu":
            values = pd.to_numeric(values, errors="coerce")
        columns[column] = values.to_numpy(dtype="float64", na_value=np.nan)
    columns["symbol"] = symbol
    return pd.DataFrame(columns)


def _split_by_symbol(
    long: pd.DataFrame, has_adjusted: Mapping[str, bool]
) -> dict[str, pd.DataFrame]:
    symbols = long["symbol"].to_numpy()
    if len(symbols) == 0:
        return {}
    starts = np.concatenate(([0], np.flatnonzero(symbols[1:] != symbols[:-1]) + 1))
    ends = np.append(starts[1:], len(symbols))

    histories = {}
    for start, end in zip(starts, ends, strict=True):
        symbol = str(symbols[start])
        history = long.iloc[start:end].drop(columns="symbol").set_index("date")
        if not has_adjusted.get(symbol, False) and "adj_close" in history.columns:
            history = history.drop(columns="adj_close")
        histories[symbol] = history
    return histories


def normalize_long(frame: pd.DataFrame) -> pd.DataFrame:
    """Normalize a long frame of many symbols (columns ``symbol, date, ...``).

    Returns a frame sorted by symbol then date with a default index. Symbols
    whose rows are all invalid simply disappear; callers report them.
    """
    data = frame.rename(columns={column: _column_name(column) for column in frame.columns})
    missing = [
        column for column in ["symbol", "date", *OHLCV_COLUMNS] if column not in data.columns
    ]
    if missing:
        symbols = ", ".join(map(str, pd.unique(data["symbol"])[:3])) if "symbol" in data else "?"
        raise NoDataError(symbols, f"the source returned no {', '.join(missing)} column")

    keep = OHLCV_COLUMNS + (["adj_close"] if "adj_close" in data.columns else [])
    values = data[keep].apply(pd.to_numeric, errors="coerce").astype("float64")
    values.insert(0, "date", exchange_dates(pd.Index(data["date"])))
    values.insert(0, "symbol", data["symbol"].astype(str).to_numpy())

    values = _drop_invalid_rows(values)
    values = values.sort_values(["symbol", "date"], kind="stable")
    values = values.drop_duplicates(["symbol", "date"], keep="last")
    values["volume"] = values["volume"].round().astype("int64")
    return values.reset_index(drop=True)


def _exchange_today() -> pd.Timestamp:
    """Today's date at the exchange; a bar dated later cannot be real."""
    return pd.Timestamp.now(tz=EXCHANGE_TZ).normalize().tz_localize(None)


def _drop_invalid_rows(values: pd.DataFrame) -> pd.DataFrame:
    numeric = values.columns.difference(["symbol", "date"])
    values[numeric] = values[numeric].replace([np.inf, -np.inf], np.nan)

    # A row with any missing or non-positive price cannot feed an indicator,
    # and one beyond any real quote or share count is corrupt (the volume
    # limit also keeps the int64 conversion below from overflowing).
    prices = values[PRICE_COLUMNS]
    valid = prices.notna().all(axis=1) & (prices > 0).all(axis=1) & (prices < MAX_PRICE).all(axis=1)
    valid &= values["volume"].notna() & (values["volume"] >= 0) & (values["volume"] < MAX_VOLUME)
    today = _exchange_today()
    future = values["date"] > today
    valid &= values["date"].notna() & ~future
    if future.any():
        symbols = ", ".join(sorted(map(str, pd.unique(values.loc[future, "symbol"])))[:5])
        logger.warning(
            "dropped %d bars dated after today (%s) for %s; check the data source's dates",
            int(future.sum()),
            today.date(),
            symbols,
        )

    # A high below the low is impossible. A high or low that misses the open
    # or close by a tick does occur in Yahoo's data (137 of 5.8 million TSE
    # bars), so the range is widened to contain them rather than dropped.
    valid &= values["high"] >= values["low"]
    values["high"] = values[PRICE_COLUMNS].max(axis=1)
    values["low"] = values[PRICE_COLUMNS].min(axis=1)

    # Yahoo emits phantom rows on exchange holidays: no volume and every
    # price equal to the previous close. They are not sessions.
    flat = (
        (values["open"] == values["high"])
        & (values["high"] == values["low"])
        & (values["low"] == values["close"])
    )
    valid &= ~((values["volume"] == 0) & flat)

    if "adj_close" in values.columns:
        adjusted = values["adj_close"].where(values["adj_close"] > 0)
        values["adj_close"] = adjusted.fillna(values["close"])

    dropped = int((~valid).sum())
    if dropped:
        logger.debug("dropped %d invalid or phantom rows", dropped)
    return values[valid]
