"""TSE trading days, sessions and the market status."""

from __future__ import annotations

import datetime as dt

import pytest

from clstock_core.market import TOKYO, TseCalendar
from clstock_core.models import MarketPhase


def tokyo(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=TOKYO)


@pytest.fixture(scope="module")
def calendar() -> TseCalendar:
    return TseCalendar()


@pytest.mark.parametrize(
    ("day", "reason"),
    [
        (dt.date(2025, 6, 14), "weekend"),
        (dt.date(2025, 6, 15), "weekend"),
        (dt.date(2024, 12, 31), "year-end holiday"),
        (dt.date(2025, 1, 2), "year-end holiday"),
        (dt.date(2025, 1, 3), "year-end holiday"),
        (dt.date(2025, 1, 13), "Coming of Age Day"),
        (dt.date(2025, 2, 24), "Substitute Holiday"),
        (dt.date(2019, 4, 30), "National Holiday"),
        (dt.date(2019, 5, 1), "Emperor's Enthronement Day"),
        (dt.date(2019, 5, 6), "Substitute Holiday"),
        (dt.date(2026, 9, 22), "National Holiday"),
    ],
)
def test_closed_days(calendar: TseCalendar, day: dt.date, reason: str) -> None:
    assert reason in calendar.closed_reason(day)
    assert calendar.is_trading_day(day) is False


@pytest.mark.parametrize(
    "day",
    [dt.date(2025, 1, 6), dt.date(2024, 12, 30), dt.date(2025, 6, 11), dt.date(2019, 5, 7)],
)
def test_trading_days(calendar: TseCalendar, day: dt.date) -> None:
    assert calendar.closed_reason(day) is None


@pytest.mark.parametrize(
    ("moment", "phase", "is_open"),
    [
        (tokyo(2025, 6, 11, 8, 59), MarketPhase.PRE_OPEN, False),
        (tokyo(2025, 6, 11, 9, 0), MarketPhase.MORNING_SESSION, True),
        (tokyo(2025, 6, 11, 11, 29), MarketPhase.MORNING_SESSION, True),
        (tokyo(2025, 6, 11, 11, 30), MarketPhase.LUNCH_BREAK, False),
        (tokyo(2025, 6, 11, 12, 30), MarketPhase.AFTERNOON_SESSION, True),
        (tokyo(2025, 6, 11, 15, 29), MarketPhase.AFTERNOON_SESSION, True),
        (tokyo(2025, 6, 11, 15, 30), MarketPhase.AFTER_CLOSE, False),
        (tokyo(2024, 11, 1, 15, 10), MarketPhase.AFTER_CLOSE, False),
        (tokyo(2024, 11, 5, 15, 10), MarketPhase.AFTERNOON_SESSION, True),
        (tokyo(2025, 6, 14, 10, 0), MarketPhase.CLOSED_DAY, False),
    ],
)
def test_phases(
    calendar: TseCalendar, moment: dt.datetime, phase: MarketPhase, is_open: bool
) -> None:
    status = calendar.status(moment)

    assert status.phase is phase
    assert status.is_open is is_open


def test_utc_input_is_converted_to_tokyo(calendar: TseCalendar) -> None:
    # 00:30 UTC is 09:30 in Tokyo.
    status = calendar.status(dt.datetime(2025, 6, 11, 0, 30, tzinfo=dt.UTC))

    assert status.phase is MarketPhase.MORNING_SESSION


def test_next_change_and_open_during_morning(calendar: TseCalendar) -> None:
    status = calendar.status(tokyo(2025, 6, 11, 10, 0))

    assert status.next_change == tokyo(2025, 6, 11, 11, 30)
    assert status.next_open == tokyo(2025, 6, 11, 12, 30)


def test_friday_after_close_opens_monday(calendar: TseCalendar) -> None:
    status = calendar.status(tokyo(2025, 6, 13, 16, 0))

    assert status.next_change == tokyo(2025, 6, 14)
    assert status.next_open == tokyo(2025, 6, 16, 9, 0)


def test_year_end_closure_reopens_after_holidays(calendar: TseCalendar) -> None:
    status = calendar.status(tokyo(2024, 12, 31, 10, 0))

    assert status.trading_day is False
    assert status.closed_reason == "year-end holiday"
    assert status.next_change == tokyo(2025, 1, 6)
    assert status.next_open == tokyo(2025, 1, 6, 9, 0)


def test_golden_week_2019_ten_day_closure(calendar: TseCalendar) -> None:
    status = calendar.status(tokyo(2019, 4, 27, 12, 0))

    assert status.next_open == tokyo(2019, 5, 7, 9, 0)


def test_naive_time_is_rejected(calendar: TseCalendar) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        calendar.status(dt.datetime(2025, 6, 11, 10, 0))


def test_status_serializes_tokyo_offset(calendar: TseCalendar) -> None:
    text = calendar.status(tokyo(2025, 6, 11, 10, 0)).model_dump_json()

    assert '"next_change":"2025-06-11T11:30:00+09:00"' in text
