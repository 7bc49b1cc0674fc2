"""Trading days and session hours of the Tokyo Stock Exchange.

The cash equity market trades in two sessions, 9:00-11:30 and 12:30-15:30
Asia/Tokyo time. The afternoon session closed at 15:00 until the exchange
extended it on 2024-11-05. The exchange is closed on weekends, on Japanese
national holidays (substitute holidays and "national holidays" between two
holidays included) and from December 31 to January 3.

Holidays come from the ``holidays`` package's JPX market calendar
(``holidays.financial_holidays("XJPX")``), which applies the Act on National
Holidays and adds the year-end closure. It covers 1949 to 2099; later years
only count weekends and the year-end closure as closed.
"""

from __future__ import annotations

import datetime as dt
import threading
from zoneinfo import ZoneInfo

import holidays

from clstock_core.models import MarketPhase, MarketStatus

TOKYO = ZoneInfo("Asia/Tokyo")

MORNING_OPEN = dt.time(9, 0)
MORNING_CLOSE = dt.time(11, 30)
AFTERNOON_OPEN = dt.time(12, 30)
AFTERNOON_CLOSE = dt.time(15, 30)
#: The afternoon session closed at 15:00 before this date.
AFTERNOON_CLOSE_BEFORE_EXTENSION = dt.time(15, 0)
CLOSE_EXTENDED_ON = dt.date(2024, 11, 5)

#: Longer than any closure on record (Golden Week 2019 closed 10 days in a row).
_MAX_CLOSED_RUN = 31


class TseCalendar:
    """Trading days of the exchange and the trading phase at any moment."""

    def __init__(self) -> None:
        # The holiday table fills in year by year on lookup; the lock keeps
        # two threads from populating the same year at once.
        self._holidays = holidays.financial_holidays("XJPX")
        self._lock = threading.Lock()

    def closed_reason(self, day: dt.date) -> str | None:
        """Return why the exchange is closed all day, or None on a trading day."""
        if day.weekday() >= 5:
            return "weekend"
        if (day.month, day.day) in {(12, 31), (1, 1), (1, 2), (1, 3)}:
            return "year-end holiday"
        with self._lock:
            name = self._holidays.get(day)
        return str(name) if name else None

    def is_trading_day(self, day: dt.date) -> bool:
        return self.closed_reason(day) is None

    def afternoon_close(self, day: dt.date) -> dt.time:
        return AFTERNOON_CLOSE if day >= CLOSE_EXTENDED_ON else AFTERNOON_CLOSE_BEFORE_EXTENSION

    def next_trading_day(self, after: dt.date) -> dt.date:
        """Return the first trading day strictly after ``after``."""
        day = after
        for _ in range(_MAX_CLOSED_RUN):
            day += dt.timedelta(days=1)
            if self.is_trading_day(day):
                return day
        raise RuntimeError(f"no TSE trading day within {_MAX_CLOSED_RUN} days after {after}")

    def status(self, now: dt.datetime) -> MarketStatus:
        """Return the market status at ``now``, which must be timezone-aware."""
        if now.tzinfo is None:
            raise ValueError(
                f"market status needs a timezone-aware time, got naive {now.isoformat()}"
            )
        local = now.astimezone(TOKYO)
        day = local.date()
        reason = self.closed_reason(day)
        following_open = _at(self.next_trading_day(day), MORNING_OPEN)

        if reason is not None:
            return MarketStatus(
                is_open=False,
                phase=MarketPhase.CLOSED_DAY,
                trading_day=False,
                closed_reason=reason,
                next_change=_at(following_open.date(), dt.time(0, 0)),
                next_open=following_open,
            )

        phase, next_change, next_open = self._phase(local, following_open)
        return MarketStatus(
            is_open=phase in (MarketPhase.MORNING_SESSION, MarketPhase.AFTERNOON_SESSION),
            phase=phase,
            trading_day=True,
            next_change=next_change,
            next_open=next_open,
        )

    def _phase(
        self, local: dt.datetime, following_open: dt.datetime
    ) -> tuple[MarketPhase, dt.datetime, dt.datetime]:
        """Return the phase of a trading day, when it ends and when trading resumes."""
        day = local.date()
        morning_open = _at(day, MORNING_OPEN)
        morning_close = _at(day, MORNING_CLOSE)
        afternoon_open = _at(day, AFTERNOON_OPEN)
        afternoon_close = _at(day, self.afternoon_close(day))
        midnight = _at(day + dt.timedelta(days=1), dt.time(0, 0))

        if local < morning_open:
            return MarketPhase.PRE_OPEN, morning_open, morning_open
        if local < morning_close:
            return MarketPhase.MORNING_SESSION, morning_close, afternoon_open
        if local < afternoon_open:
            return MarketPhase.LUNCH_BREAK, afternoon_open, afternoon_open
        if local < afternoon_close:
            return MarketPhase.AFTERNOON_SESSION, afternoon_close, following_open
        return MarketPhase.AFTER_CLOSE, midnight, following_open


def _at(day: dt.date, time: dt.time) -> dt.datetime:
    return dt.datetime.combine(day, time, tzinfo=TOKYO)
