"""The limiter plugin: GCRA limits per route and identity, on an injected clock."""

from __future__ import annotations

import tracemalloc

import pytest
from clstock_limiter.gcra import GcraBucket
from clstock_limiter.limiter import Limiter
from clstock_limiter.settings import DEFAULT_LIMITS, LimiterSettings
from pydantic import ValidationError

from clstock_core.roles import RateLimiter
from tests.http.conftest import FakeClock


def bucket(
    limit: int = 50, period: float = 60.0, *, clock: FakeClock, max_clients: int = 1000
) -> GcraBucket:
    return GcraBucket(limit, period, clock=clock, max_clients=max_clients, name="test")


def test_limiter_follows_the_role_protocol() -> None:
    assert isinstance(Limiter(LimiterSettings()), RateLimiter)


def test_default_limits_per_route() -> None:
    limiter = Limiter(LimiterSettings())

    assert {route: (b.limit, b.period) for route, b in limiter._buckets.items()} == {
        "recommendations": (50, 60.0),
        "recommendation": (100, 60.0),
        "stocks": (200, 60.0),
        "stock_data": (150, 60.0),
        "cache_clear": (10, 60.0),
    }


def test_configured_routes_merge_with_defaults() -> None:
    settings = LimiterSettings.model_validate(
        {"routes": {"stocks": "5/second", "recommendations": "none"}}
    )
    limiter = Limiter(settings)

    assert limiter.hit("recommendations", "ip:1") is None
    assert limiter.limit_of("stocks").limit == 5
    assert limiter.limit_of("stocks").period == 1.0
    assert limiter.limit_of("stock_data").limit == 150
    assert settings.routes["recommendation"] == DEFAULT_LIMITS["recommendation"]


def test_invalid_limit_names_route_and_format() -> None:
    with pytest.raises(ValidationError) as caught:
        LimiterSettings.model_validate({"routes": {"stocks": "lots"}})

    assert "'stocks'" in str(caught.value)
    assert "50/minute" in str(caught.value)


def test_unknown_route_is_unlimited() -> None:
    assert Limiter(LimiterSettings()).hit("health", "ip:1") is None


def test_burst_up_to_limit_then_rejected() -> None:
    clock = FakeClock()
    limit = bucket(5, 60.0, clock=clock)

    decisions = [limit.hit("a") for _ in range(6)]

    assert [d.allowed for d in decisions] == [True] * 5 + [False]
    assert [d.remaining for d in decisions] == [4, 3, 2, 1, 0, 0]
    assert decisions[0].limit == 5


def test_retry_after_is_the_real_wait() -> None:
    clock = FakeClock()
    limit = bucket(5, 60.0, clock=clock)
    for _ in range(5):
        limit.hit("a")

    rejected = limit.hit("a")
    clock.advance(11.9)
    still_rejected = limit.hit("a")
    clock.advance(0.1)
    allowed = limit.hit("a")

    assert rejected.retry_after == pytest.approx(12.0)
    assert still_rejected.allowed is False
    assert still_rejected.retry_after == pytest.approx(0.1)
    assert allowed.allowed is True
    assert allowed.remaining == 0


def test_reset_after_counts_until_full_allowance() -> None:
    clock = FakeClock()
    limit = bucket(5, 60.0, clock=clock)

    first = limit.hit("a")
    second = limit.hit("a")
    clock.advance(60)
    after_idle = limit.hit("a")

    assert first.reset_after == pytest.approx(12.0)
    assert second.reset_after == pytest.approx(24.0)
    assert after_idle.remaining == 4


def test_no_double_burst_at_window_boundary() -> None:
    clock = FakeClock(start=59.0)
    limit = bucket(50, 60.0, clock=clock)

    before = sum(limit.hit("a").allowed for _ in range(50))
    clock.advance(1.5)  # crosses the minute a fixed window would reset at
    after = sum(limit.hit("a").allowed for _ in range(50))

    assert before == 50
    # 1.5 s refills one request at 50/min (one per 1.2 s); a fixed window
    # would have allowed 50 more here.
    assert after == 1


def test_any_window_admits_at_most_limit_plus_refill() -> None:
    clock = FakeClock(start=0.0)
    limit = bucket(10, 60.0, clock=clock)
    accepted: list[float] = []

    for _ in range(600):  # a client hammering every 0.5 s for 5 minutes
        if limit.hit("a").allowed:
            accepted.append(clock.now)
        clock.advance(0.5)

    for start in accepted:
        in_window = [t for t in accepted if start <= t < start + 60.0]
        assert len(in_window) <= 10 + 10  # burst plus one period of refill
    steady = [t for t in accepted if 120.0 <= t < 180.0]
    assert len(steady) == 10


def test_identities_have_separate_allowances() -> None:
    clock = FakeClock()
    limit = bucket(2, 60.0, clock=clock)

    assert [limit.hit("key:a").allowed for _ in range(3)] == [True, True, False]
    assert [limit.hit("key:b").allowed for _ in range(3)] == [True, True, False]
    assert [limit.hit("ip:203.0.113.1").allowed for _ in range(3)] == [True, True, False]


def test_rejected_requests_do_not_extend_the_wait() -> None:
    clock = FakeClock()
    limit = bucket(1, 10.0, clock=clock)
    limit.hit("a")

    for _ in range(100):
        limit.hit("a")
    clock.advance(10.0)

    assert limit.hit("a").allowed is True


def test_idle_entries_expire() -> None:
    clock = FakeClock()
    limit = bucket(5, 60.0, clock=clock)
    for index in range(1000):
        limit.hit(f"ip:{index}")

    clock.advance(61)
    for _ in range(600):
        limit.hit("ip:active")

    assert len(limit) < 10


def test_memory_bounded_with_many_distinct_clients() -> None:
    clock = FakeClock()
    limit = bucket(50, 60.0, clock=clock, max_clients=5_000)

    tracemalloc.start()
    for index in range(50_000):  # all within a second, so none expires on its own
        limit.hit(f"ip:10.{index >> 16 & 255}.{index >> 8 & 255}.{index & 255}")
        clock.advance(0.00002)
    current, _peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    assert len(limit) == 5_000
    assert current < 5_000 * 400  # identity string, float and dict slot per client


def test_eviction_beyond_max_clients_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    limit = bucket(5, 60.0, clock=clock, max_clients=10)

    for index in range(20):
        limit.hit(f"ip:{index}")

    assert len(limit) == 10
    assert any("evicted" in record.getMessage() for record in caplog.records)


def test_limiter_reports_per_process_storage() -> None:
    assert Limiter(LimiterSettings()).per_process is True


def test_invalid_bucket_parameters_raise() -> None:
    with pytest.raises(ValueError, match="positive"):
        GcraBucket(0, 60.0, clock=FakeClock(), max_clients=10)
