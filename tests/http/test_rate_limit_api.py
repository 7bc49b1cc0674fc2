"""Rate limits through the API, on an injected clock: headers, 429, identities, proxies."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

import pytest
from clstock_http.server import HttpFrontend
from clstock_http.settings import HttpSettings
from starlette.testclient import TestClient

from clstock_core.app import Application
from tests.http.conftest import OTHER_READER_KEY, READER_KEY, FakeClock, auth

Limited = Callable[..., tuple[TestClient, FakeClock]]


def peer(client: TestClient, address: str) -> TestClient:
    """Return a client of the same running API that connects from ``address``."""
    return TestClient(client.app, base_url=str(client.base_url), client=(address, 40000))


def test_limited_response_has_ratelimit_headers(limited_client: Limited) -> None:
    client, _ = limited_client('stocks = "5/minute"')

    first = client.get("/api/v1/stocks", headers=auth(READER_KEY))
    second = client.get("/api/v1/stocks", headers=auth(READER_KEY))

    assert first.headers["ratelimit-limit"] == "5"
    assert first.headers["ratelimit-remaining"] == "4"
    assert first.headers["ratelimit-reset"] == "12"
    assert second.headers["ratelimit-remaining"] == "3"
    assert second.headers["ratelimit-reset"] == "24"


def test_429_retry_after_is_the_real_wait(limited_client: Limited) -> None:
    client, clock = limited_client('stocks = "5/minute"')
    for _ in range(5):
        assert client.get("/api/v1/stocks", headers=auth(READER_KEY)).status_code == 200
    clock.advance(4.5)

    rejected = client.get("/api/v1/stocks", headers=auth(READER_KEY))

    assert rejected.status_code == 429
    assert rejected.headers["retry-after"] == str(math.ceil(12 - 4.5))
    assert rejected.headers["ratelimit-remaining"] == "0"
    error = rejected.json()["error"]
    assert error["code"] == "rate_limited"
    assert error["retry_after"] == 8

    clock.advance(7.4)
    assert client.get("/api/v1/stocks", headers=auth(READER_KEY)).status_code == 429
    clock.advance(0.1)
    assert client.get("/api/v1/stocks", headers=auth(READER_KEY)).status_code == 200


def test_window_edge_allows_no_second_burst(limited_client: Limited) -> None:
    client, clock = limited_client('recommendations = "50/minute"')
    clock.now = 59.9
    statuses = [
        client.get("/api/v1/recommendations", headers=auth(READER_KEY)).status_code
        for _ in range(50)
    ]
    clock.now = 60.1

    after = [
        client.get("/api/v1/recommendations", headers=auth(READER_KEY)).status_code
        for _ in range(5)
    ]

    assert statuses == [200] * 50
    assert after == [429] * 5


def test_routes_have_separate_limits(limited_client: Limited) -> None:
    client, _ = limited_client('stocks = "1/minute", stock_data = "1/minute"')

    assert client.get("/api/v1/stocks", headers=auth(READER_KEY)).status_code == 200
    assert client.get("/api/v1/stocks", headers=auth(READER_KEY)).status_code == 429
    assert client.get("/api/v1/stock/7203/data", headers=auth(READER_KEY)).status_code == 200


def test_default_limits_apply_per_route(make_client: Callable[..., TestClient]) -> None:
    client = make_client()

    expected = {
        "/api/v1/recommendations": "50",
        "/api/v1/recommendation/7203": "100",
        "/api/v1/stocks": "200",
        "/api/v1/stock/7203/data": "150",
    }
    for path, limit in expected.items():
        assert client.get(path, headers=auth(READER_KEY)).headers["ratelimit-limit"] == limit


def test_each_key_has_its_own_allowance(limited_client: Limited) -> None:
    client, _ = limited_client('stocks = "2/minute"')

    first = [client.get("/api/v1/stocks", headers=auth(READER_KEY)).status_code for _ in range(3)]
    second = [
        client.get("/api/v1/stocks", headers=auth(OTHER_READER_KEY)).status_code for _ in range(3)
    ]

    assert first == [200, 200, 429]
    assert second == [200, 200, 429]


def test_key_allowance_is_shared_across_addresses(limited_client: Limited) -> None:
    client, _ = limited_client('stocks = "2/minute"')
    elsewhere = peer(client, "198.51.100.20")

    assert client.get("/api/v1/stocks", headers=auth(READER_KEY)).status_code == 200
    assert elsewhere.get("/api/v1/stocks", headers=auth(READER_KEY)).status_code == 200
    assert elsewhere.get("/api/v1/stocks", headers=auth(READER_KEY)).status_code == 429


def test_unauthenticated_requests_limited_per_address(limited_client: Limited) -> None:
    client, _ = limited_client('stocks = "2/minute"')
    other = peer(client, "198.51.100.20")

    guesses = [
        client.get("/api/v1/stocks", headers=auth("clsk_guess")).status_code for _ in range(3)
    ]

    assert guesses == [401, 401, 429]
    assert other.get("/api/v1/stocks").status_code == 401
    # A valid key is counted under its own identity, not the address.
    assert client.get("/api/v1/stocks", headers=auth(READER_KEY)).status_code == 200


def test_401_carries_ratelimit_headers(limited_client: Limited) -> None:
    client, _ = limited_client('stocks = "3/minute"')

    response = client.get("/api/v1/stocks")

    assert response.status_code == 401
    assert response.headers["ratelimit-remaining"] == "2"


def test_forwarded_for_from_trusted_proxy_separates_clients(limited_client: Limited) -> None:
    client, _ = limited_client('stocks = "1/minute"', frontend='trusted_proxies = ["192.0.2.10"]\n')

    first = client.get("/api/v1/stocks", headers={"X-Forwarded-For": "203.0.113.1"})
    repeat = client.get("/api/v1/stocks", headers={"X-Forwarded-For": "203.0.113.1"})
    other = client.get("/api/v1/stocks", headers={"X-Forwarded-For": "203.0.113.2"})
    forged = client.get("/api/v1/stocks", headers={"X-Forwarded-For": "9.9.9.9, 203.0.113.1"})

    assert first.status_code == 401
    assert repeat.status_code == 429
    assert other.status_code == 401
    assert forged.status_code == 429  # the right-most untrusted hop is the same client


def test_forwarded_for_from_untrusted_peer_is_ignored(limited_client: Limited) -> None:
    client, _ = limited_client('stocks = "1/minute"', frontend='trusted_proxies = ["10.0.0.0/8"]\n')

    first = client.get("/api/v1/stocks", headers={"X-Forwarded-For": "203.0.113.1"})
    spoofed = client.get("/api/v1/stocks", headers={"X-Forwarded-For": "203.0.113.2"})

    assert first.status_code == 401
    assert spoofed.status_code == 429


def test_public_routes_are_not_limited(limited_client: Limited) -> None:
    client, _ = limited_client('stocks = "1/minute"')

    responses = [client.get("/api/v1/health") for _ in range(5)]

    assert all(r.status_code == 200 for r in responses)
    assert all("ratelimit-limit" not in r.headers for r in responses)


def test_rate_limiter_none_disables_limits(make_client: Callable[..., TestClient]) -> None:
    client = make_client('[rate_limiter]\nuse = "none"\n')

    response = client.get("/api/v1/stocks", headers=auth(READER_KEY))

    assert response.status_code == 200
    assert "ratelimit-limit" not in response.headers


def test_several_workers_warn_limits_are_per_worker(
    write_config: Callable[..., object], caplog: pytest.LogCaptureFixture
) -> None:
    with Application(write_config()) as application:
        frontend = HttpFrontend(HttpSettings(workers=3), application)
        frontend._warn_per_worker_limits()

    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("per worker process" in message and "3 workers" in message for message in warnings)


def test_one_worker_does_not_warn(
    write_config: Callable[..., object], caplog: pytest.LogCaptureFixture
) -> None:
    with Application(write_config()) as application:
        HttpFrontend(HttpSettings(workers=1), application)._warn_per_worker_limits()

    assert not any("per worker" in r.getMessage() for r in caplog.records)
