"""Rebalance and retrain dates of a walk-forward evaluation."""

from __future__ import annotations

import datetime as dt
from typing import Literal

import numpy as np
import pandas as pd

Frequency = Literal["weekly", "monthly", "quarterly", "yearly"]
RetrainFrequency = Literal["monthly", "quarterly", "yearly", "never"]

_PERIOD_CODES = {"weekly": "W", "monthly": "M", "quarterly": "Q", "yearly": "Y"}


def rebalance_dates(
    sessions: pd.DatetimeIndex,
    start: dt.date,
    end: dt.date,
    frequency: Frequency,
    holding_days: int,
) -> pd.DatetimeIndex:
    """The last session of each period between ``start`` and ``end``.

    A date qualifies only when the sessions after it cover a whole holding
    period (entry at the next session, then ``holding_days`` sessions), so
    every rebalance has a measurable outcome.
    """
    if len(sessions) == 0:
        return pd.DatetimeIndex([])
    periods = sessions.to_period(_PERIOD_CODES[frequency])
    is_last = np.append(periods[1:] != periods[:-1], True)

    positions = np.flatnonzero(is_last)
    positions = positions[positions + holding_days <= len(sessions) - 1]
    dates = sessions[positions]
    return dates[(dates >= pd.Timestamp(start)) & (dates <= pd.Timestamp(end))]


def retrain_dates(dates: pd.DatetimeIndex, frequency: RetrainFrequency) -> set[pd.Timestamp]:
    """The first rebalance date, and the first one of every later period."""
    if len(dates) == 0:
        return set()
    if frequency == "never":
        return {dates[0]}
    periods = dates.to_period(_PERIOD_CODES[frequency])
    is_first = np.insert(periods[1:] != periods[:-1], 0, True)
    return set(dates[is_first])
