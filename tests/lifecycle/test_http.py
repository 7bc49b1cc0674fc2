"""The HTTP session factory against a stub server on 127.0.0.1."""

from __future__ import annotations

import socket

import pytest
import requests
from urllib3.util.retry import RequestHistory

from clstock_core.lifecycle import ShutdownManager
from clstock_core.lifecycle.http import BoundedRetry, create_session
from tests.stub_server import Reply, StubServer


def _session(**options):
    defaults = {"retries": 2, "backoff_factor": 0.01, "connect_timeout": 1.0, "read_timeout": 2.0}
    return create_session(**{**defaults, **options})


def _gaps(server):
    times = [request.time for request in server.requests]
    return [later - earlier for earlier, later in zip(times, times[1:], strict=False)]


@pytest.mark.parametrize("status", [500, 502, 503, 504, 429])
def test_get_retries_transient_status_then_succeeds(status):
    with StubServer(
        lambda method, path, count: Reply(status) if count <= 2 else Reply(200, b"fine")
    ) as server:
        with _session() as session:
            response = session.get(f"{server.url}/prices")
    assert response.status_code == 200
    assert response.text == "fine"
    assert server.count("/prices") == 3


def test_retries_are_bounded_and_last_response_returned():
    with StubServer(lambda method, path, count: Reply(503, b"down")) as server:
        with _session(retries=2) as session:
            response = session.get(f"{server.url}/down")
    assert response.status_code == 503
    assert server.count("/down") == 3


def test_client_errors_are_not_retried():
    with StubServer(lambda method, path, count: Reply(404, b"missing")) as server:
        with _session() as session:
            response = session.get(f"{server.url}/missing")
    assert response.status_code == 404
    assert server.count("/missing") == 1


def test_retry_after_is_honoured():
    def respond(method, path, count):
        return Reply(429, headers={"Retry-After": "1"}) if count == 1 else Reply(200)

    with StubServer(respond) as server:
        with _session(backoff_factor=0) as session:
            assert session.get(f"{server.url}/limited").status_code == 200
    assert server.count("/limited") == 2
    assert _gaps(server)[0] >= 0.95


def test_long_retry_after_is_not_waited_for():
    with StubServer(
        lambda method, path, count: Reply(429, headers={"Retry-After": "120"})
    ) as server:
        with _session(max_retry_after=5) as session:
            response = session.get(f"{server.url}/limited")
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "120"
    assert server.count("/limited") == 1


def test_post_is_not_retried_after_server_error():
    with StubServer(lambda method, path, count: Reply(503) if count == 1 else Reply(200)) as server:
        with _session() as session:
            response = session.post(f"{server.url}/orders", data=b"payload")
    assert response.status_code == 503
    assert server.count("/orders") == 1


def test_post_is_retried_after_429():
    def respond(method, path, count):
        return Reply(429, headers={"Retry-After": "0"}) if count == 1 else Reply(201)

    with StubServer(respond) as server:
        with _session() as session:
            response = session.post(f"{server.url}/orders", data=b"payload")
    assert response.status_code == 201
    assert server.count("/orders") == 2


def test_post_is_not_retried_after_read_timeout():
    with StubServer(lambda method, path, count: Reply(200, delay=0.5)) as server:
        with _session(read_timeout=0.1) as session, pytest.raises(requests.ConnectionError):
            session.post(f"{server.url}/slow", data=b"payload")
    assert server.count("/slow") == 1


def test_default_read_timeout_applies_and_get_is_retried():
    with StubServer(
        lambda method, path, count: Reply(200, delay=0.5) if count == 1 else Reply(200)
    ) as server:
        with _session(read_timeout=0.1) as session:
            response = session.get(f"{server.url}/slow")
    assert response.status_code == 200
    assert server.count("/slow") == 2


def test_connection_refused_is_retried_then_raised(monkeypatch):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    errors = []
    original = BoundedRetry.increment

    def counting(self, *args, **kwargs):
        errors.append(kwargs.get("error"))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(BoundedRetry, "increment", counting)
    with _session(retries=2) as session, pytest.raises(requests.ConnectionError):
        session.get(f"http://127.0.0.1:{port}/")
    assert len(errors) == 3
    assert all(error is not None for error in errors)


def test_backoff_grows_exponentially_with_jitter():
    retry = BoundedRetry(total=5, backoff_factor=1.0, backoff_max=100)
    for attempt in range(1, 5):
        retry = retry.new(history=(*retry.history, RequestHistory("GET", "/", None, 503, None)))
        base = 2 ** (attempt - 1)
        delays = {retry.get_backoff_time() for _ in range(20)}
        assert all(base / 2 <= delay <= base for delay in delays)
        assert len(delays) > 1, "jitter must vary the delay"


def test_backoff_is_capped():
    retry = BoundedRetry(total=20, backoff_factor=1.0, backoff_max=3.0)
    retry = retry.new(history=tuple(RequestHistory("GET", "/", None, 503, None) for _ in range(10)))
    assert retry.get_backoff_time() <= 3.0


def test_session_closed_at_shutdown():
    shutdown = ShutdownManager()
    session = create_session(shutdown=shutdown)
    adapter = session.get_adapter("http://127.0.0.1/")
    adapter.poolmanager.connection_from_url("http://127.0.0.1:9/")

    shutdown.run()

    assert len(adapter.poolmanager.pools) == 0


def test_session_closed_early_leaves_shutdown():
    shutdown = ShutdownManager()
    session = create_session(shutdown=shutdown, name="early")
    session.close()
    assert shutdown.run() == []
    assert session._unregister is None
