"""The current TSE market status, computed once per phase instead of per request."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass

from clstock_core.market import TseCalendar
from clstock_core.models import MarketStatus


@dataclass(frozen=True)
class _Entry:
    status: MarketStatus
    json: bytes
    since: float
    until: float


class MarketClock:
    """Returns the market status and its JSON, cached until the phase changes.

    ``wall_clock`` returns Unix time in seconds (``time.time``); tests pass
    a fixed moment.
    """

    def __init__(
        self, calendar: TseCalendar | None = None, wall_clock: Callable[[], float] = time.time
    ) -> None:
        self._calendar = calendar or TseCalendar()
        self._wall_clock = wall_clock
        self._entry: _Entry | None = None

    def current(self) -> tuple[MarketStatus, bytes]:
        now = self._wall_clock()
        entry = self._entry
        if entry is None or not entry.since <= now < entry.until:
            status = self._calendar.status(dt.datetime.fromtimestamp(now, dt.UTC))
            entry = _Entry(
                status, status.model_dump_json().encode(), now, status.next_change.timestamp()
            )
            self._entry = entry
        return entry.status, entry.json
