"""Authentication and roles through the API: 401, 403, query keys, development keys, logs."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from starlette.testclient import TestClient

from tests.http.conftest import ADMIN_KEY, READER_KEY, auth, sha256_hex

DEVELOPMENT = {"CLSTOCK_ENGINE__PROFILE": "development"}

DATA_ROUTES = [
    "/api/v1/recommendations",
    "/api/v1/recommendation/7203",
    "/api/v1/stocks",
    "/api/v1/stock/7203/data",
]


@pytest.mark.parametrize("path", DATA_ROUTES)
def test_data_routes_need_a_key(client: TestClient, path: str) -> None:
    response = client.get(path)

    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["error"]["code"] == "unauthorized"


@pytest.mark.parametrize("path", DATA_ROUTES)
def test_reader_key_opens_data_routes(client: TestClient, path: str) -> None:
    assert client.get(path, headers=auth(READER_KEY)).status_code == 200


@pytest.mark.parametrize(
    "header",
    [
        b"Bearer clsk_wrong",
        b"Basic dXNlcjpwYXNz",
        b"Bearer",
        b"Bearer ",
        b"Bearer  " + READER_KEY.encode(),
        b"Bearer " + READER_KEY.encode() + b" ",
        b"Bearer \xe9\xff" + READER_KEY.encode(),
        b"\xff\xfe",
        b"bearer" + READER_KEY.encode(),
        READER_KEY.encode(),
    ],
)
def test_malformed_authorization_is_401(client: TestClient, header: bytes) -> None:
    response = client.get("/api/v1/stocks", headers={"Authorization": header})

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="clstock"'
    assert response.headers["x-content-type-options"] == "nosniff"


def test_two_authorization_headers_is_401(client: TestClient) -> None:
    headers = [("Authorization", f"Bearer {READER_KEY}"), ("Authorization", f"Bearer {ADMIN_KEY}")]

    response = client.get("/api/v1/stocks", headers=headers)

    assert response.status_code == 401
    assert "several" in response.json()["error"]["message"]


def test_reader_cannot_use_admin_route(client: TestClient) -> None:
    response = client.delete("/api/v1/cache", headers=auth(READER_KEY))

    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "forbidden"
    assert "admin" in error["message"]
    assert "www-authenticate" not in response.headers


@pytest.mark.parametrize("name", ["api_key", "key", "token", "access_token", "API_KEY", "apikey"])
def test_key_in_query_string_is_400(client: TestClient, name: str) -> None:
    response = client.get(f"/api/v1/stocks?{name}={READER_KEY}", headers=auth(READER_KEY))

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "credentials_in_query"
    assert error["parameter"] == name
    assert "Authorization" in error["message"]
    assert READER_KEY not in response.text


def test_key_in_query_string_rejected_on_public_route(client: TestClient) -> None:
    assert client.get(f"/api/v1/health?token={READER_KEY}").status_code == 400


def test_development_keys_rejected_in_production(client: TestClient) -> None:
    assert client.get("/api/v1/stocks", headers=auth("development-key")).status_code == 401


def test_development_keys_on_loopback(make_client: Callable[..., TestClient]) -> None:
    client = make_client(environ=DEVELOPMENT, base_url="http://127.0.0.1")

    assert client.get("/api/v1/stocks", headers=auth("development-key")).status_code == 200
    assert client.delete("/api/v1/cache", headers=auth("development-key")).status_code == 403
    assert client.delete("/api/v1/cache", headers=auth("admin-key")).status_code == 200


def test_development_profile_refuses_non_loopback_server(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(environ=DEVELOPMENT, base_url="http://api.example.test")

    response = client.get("/api/v1/stocks", headers=auth("development-key"))

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "development_profile"


def test_access_log_names_fingerprint_and_label_not_key(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    client.get("/api/v1/stocks", headers=auth(READER_KEY))
    client.get(f"/api/v1/stocks?api_key={READER_KEY}")
    client.get("/api/v1/stocks", headers={"Authorization": f"Bearer {READER_KEY}x"})

    server_lines = [r.getMessage() for r in caplog.records if r.name.startswith("clstock")]
    access = [r.getMessage() for r in caplog.records if r.name == "clstock_http.access"]
    assert any(f"key {sha256_hex(READER_KEY)[:12]} (reader one)" in line for line in access)
    assert not any(READER_KEY in line for line in server_lines)
    assert not any("api_key" in line for line in access)
