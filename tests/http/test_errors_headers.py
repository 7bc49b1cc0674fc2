"""Security headers on every response, error bodies, request ids and 500/503 handling."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from clstock_http.settings import DEFAULT_SECURITY_HEADERS
from starlette.testclient import TestClient

from tests.http.conftest import ADMIN_KEY, READER_KEY, auth
from tests.http.plugins_for_tests import DownSourcePlugin, RoutesPlugin

EXPECTED_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "strict-transport-security": "max-age=63072000; includeSubDomains",
    "referrer-policy": "no-referrer",
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
    "cache-control": "no-store",
    "x-xss-protection": "0",
}


def assert_secure(response) -> None:
    for name, value in EXPECTED_HEADERS.items():
        assert response.headers.get(name) == value, name
    assert response.headers["x-request-id"]


def requests_by_status(make_client: Callable[..., TestClient]) -> dict[int, object]:
    client = make_client(
        "[frontend.http]\nwarm_up = false\n"
        '[rate_limiter.limiter]\nroutes = { stocks = "1/minute" }\n',
        extra_plugins=(("routes", RoutesPlugin()),),
    )
    reader = auth(READER_KEY)
    client.get("/api/v1/stocks", headers=reader)
    return {
        200: client.get("/api/v1/stock/7203/data", headers=reader),
        400: client.get("/api/v1/stocks?api_key=x"),
        401: client.get("/api/v1/recommendations"),
        403: client.delete("/api/v1/cache", headers=reader),
        404: client.get("/api/v1/nothing-here"),
        405: client.post("/api/v1/recommendations", headers=reader),
        422: client.get("/api/v1/recommendations?top_n=500", headers=reader),
        429: client.get("/api/v1/stocks", headers=reader),
        500: client.get("/api/v1/plugin/boom"),
    }


def test_security_headers_on_every_status(make_client: Callable[..., TestClient]) -> None:
    responses = requests_by_status(make_client)

    for status, response in responses.items():
        assert response.status_code == status
        assert_secure(response)


def test_error_bodies_share_one_shape(make_client: Callable[..., TestClient]) -> None:
    responses = requests_by_status(make_client)

    for status, response in responses.items():
        if status == 200:
            continue
        error = response.json()["error"]
        assert set(error) >= {"code", "message", "request_id"}
        assert error["request_id"] == response.headers["x-request-id"]
        assert response.headers["content-type"] == "application/json"


def test_405_names_allowed_methods(make_client: Callable[..., TestClient]) -> None:
    client = make_client()

    response = client.post("/api/v1/stocks", headers=auth(READER_KEY))

    assert response.status_code == 405
    assert set(response.headers["allow"].split(", ")) == {"GET", "HEAD"}
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_trailing_slash_is_404_not_redirect(make_client: Callable[..., TestClient]) -> None:
    response = make_client().get(
        "/api/v1/stocks/", headers=auth(READER_KEY), follow_redirects=False
    )

    assert response.status_code == 404


def test_500_is_generic_and_logged_with_request_id(
    make_client: Callable[..., TestClient], caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client(extra_plugins=(("routes", RoutesPlugin()),))

    response = client.get("/api/v1/plugin/boom")

    assert response.status_code == 500
    error = response.json()["error"]
    assert error["code"] == "internal_error"
    for leaked in ("secret", "RuntimeError", "Traceback", "/srv/", ".py"):
        assert leaked not in response.text
    logged = [
        r
        for r in caplog.records
        if r.levelno == logging.ERROR and r.name.startswith("clstock_http")
    ]
    assert logged and logged[0].exc_info is not None
    assert "secret detail" in caplog.text


def test_plugin_route_headers_win_over_defaults(make_client: Callable[..., TestClient]) -> None:
    client = make_client(extra_plugins=(("routes", RoutesPlugin()),))

    response = client.get("/api/v1/plugin/echo/x")

    assert response.json() == {"app": "ClStockApi"}
    assert response.headers.get_list("cache-control") == ["max-age=60"]
    assert response.headers["x-frame-options"] == "DENY"


def test_source_unavailable_is_503_with_retry_after(make_client: Callable[..., TestClient]) -> None:
    client = make_client(
        extra_plugins=(("down", DownSourcePlugin()),), environ={"CLSTOCK_DATA_SOURCE__USE": "down"}
    )

    ranking = client.get("/api/v1/recommendations", headers=auth(READER_KEY))
    history = client.get("/api/v1/stock/7203/data", headers=auth(READER_KEY))

    for response in (ranking, history):
        assert response.status_code == 503
        assert response.headers["retry-after"] == "42"
        assert response.json()["error"]["code"] == "source_unavailable"
        assert "/var/secret" not in response.text
        assert_secure(response)


def test_request_joining_failed_warm_up_is_503(make_client: Callable[..., TestClient]) -> None:
    gate = threading.Event()
    plugin = DownSourcePlugin(gate=gate)
    client = make_client(
        "", extra_plugins=(("down", plugin),), environ={"CLSTOCK_DATA_SOURCE__USE": "down"}
    )
    assert plugin.source.fetching.wait(10)  # the warm-up is loading

    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(client.get, "/api/v1/recommendations", headers=auth(READER_KEY))
        threading.Event().wait(0.2)  # lets the request join the running warm-up
        gate.set()
        response = pending.result(timeout=30)

    assert response.status_code == 503
    assert response.headers["retry-after"] == "42"
    assert plugin.source.fetches == 1  # the request waited for the warm-up's load


def test_source_listing_unavailable_is_503(make_client: Callable[..., TestClient]) -> None:
    client = make_client(
        extra_plugins=(("down", DownSourcePlugin(listing_fails=True)),),
        environ={"CLSTOCK_DATA_SOURCE__USE": "down"},
    )

    response = client.get("/api/v1/stocks", headers=auth(READER_KEY))

    assert response.status_code == 503
    assert response.headers["retry-after"] == "17"
    assert "internal.example" not in response.text


def test_incoming_request_id_is_kept(make_client: Callable[..., TestClient]) -> None:
    response = make_client().get("/api/v1/health", headers={"X-Request-ID": "edge-7f3a.1"})

    assert response.headers["x-request-id"] == "edge-7f3a.1"


@pytest.mark.parametrize("incoming", ["has space", "x" * 65, "new\\nline", "é"])
def test_unsafe_request_id_is_replaced(
    make_client: Callable[..., TestClient], incoming: str
) -> None:
    response = make_client().get(
        "/api/v1/health", headers={"X-Request-ID": incoming.encode("utf-8")}
    )

    assert response.headers["x-request-id"] != incoming
    assert len(response.headers["x-request-id"]) == 17


def test_request_ids_are_unique(make_client: Callable[..., TestClient]) -> None:
    client = make_client()

    ids = {client.get("/api/v1/health").headers["x-request-id"] for _ in range(20)}

    assert len(ids) == 20


def test_security_headers_are_configurable(make_client: Callable[..., TestClient]) -> None:
    client = make_client(
        '[frontend.http.security_headers]\n"Strict-Transport-Security" = "max-age=60"\n'
        '"X-XSS-Protection" = ""\n"Permissions-Policy" = "geolocation=()"\n'
    )

    response = client.get("/api/v1/health")

    assert response.headers["strict-transport-security"] == "max-age=60"
    assert "x-xss-protection" not in response.headers
    assert response.headers["permissions-policy"] == "geolocation=()"
    assert response.headers["x-frame-options"] == "DENY"


def test_default_security_headers_cover_the_requirements() -> None:
    assert {
        name.lower(): value for name, value in DEFAULT_SECURITY_HEADERS.items()
    } == EXPECTED_HEADERS


def test_admin_cache_clear_calls_backend(make_client: Callable[..., TestClient]) -> None:
    client = make_client(environ={"CLSTOCK_CACHE__USE": "pickle"})

    client.get("/api/v1/stock/7203/data", headers=auth(READER_KEY))
    response = client.delete("/api/v1/cache", headers=auth(ADMIN_KEY))

    assert response.status_code == 200
    assert response.json()["removed"] >= 1
