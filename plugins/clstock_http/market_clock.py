"""The current TSE market status, computed once per phase instead of per request."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from clstock_core.market import TseCalendar
from clstock_core.models import MarketStatus


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class _Entry:
    status: MarketStatus
    json: bytes
    since: dt.datetime


class MarketClock:
    """Returns the market status and its JSON, cached until the phase changes."""

    def __init__(
        self, calendar: TseCalendar | None = None, now: Callable[[], dt.datetime] = utc_now
    ) -> None:
        self._calendar = calendar or TseCalendar()
        self._now = now
        self._entry: _Entry | None = None

    def current(self) -> tuple[MarketStatus, bytes]:
        now = self._now()
        entry = self._entry
        if entry is None or not entry.since <= now < entry.status.next_change:
            status = self._calendar.status(now)
            entry = _Entry(status, status.model_dump_json().encode(), now)
            self._entry = entry
        return entry.status, entry.json
