"""The API under a real uvicorn server: 'clstock serve' in a subprocess, stopped by SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.helpers import make_ohlcv, write_plain_csv
from tests.http.conftest import READER_KEY, auth, keys_toml

CLSTOCK = str(Path(sys.executable).with_name("clstock"))
STARTUP_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    process: subprocess.Popen[str]
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8")

    def stop(self, timeout: float = 30.0) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


def start_server(config: Path, log_path: Path, *args: str) -> Server:
    port = free_port()
    with log_path.open("w", encoding="utf-8") as log:
        # The child keeps its own copy of the file descriptor.
        process = subprocess.Popen(
            [CLSTOCK, "--config", str(config), "serve", "--port", str(port), *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
    server = Server(process, port, log_path)
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited with {process.returncode}:\n{server.log()}")
        try:
            if httpx.get(f"{server.url}/api/v1/ready", timeout=1.0).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    server.kill()
    raise AssertionError(f"server did not become ready in {STARTUP_TIMEOUT} s:\n{server.log()}")


def raw_request(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One production server for the module; the last test stops it with SIGTERM."""
    root = tmp_path_factory.mktemp("served")
    prices = root / "prices"
    prices.mkdir()
    for index, ticker in enumerate(["7203.T", "6758.T", "130A.T", "9984.T"]):
        write_plain_csv(prices / f"{ticker}.csv", make_ohlcv(200, seed=index))
    config = root / "clstock.toml"
    config.write_text(
        f"""
[data_source]
use = "csv"
[data_source.csv]
directory = "{prices.as_posix()}"
[cache]
use = "none"
[engine]
history_days = 20000
[rate_limiter.limiter]
routes = {{ stocks = "2/minute" }}
"""
        + keys_toml(),
        encoding="utf-8",
    )
    running = start_server(config, root / "server.log")
    yield running
    running.kill()


def test_serve_answers_with_secure_headers(server: Server) -> None:
    response = httpx.get(f"{server.url}/api/v1/recommendations?top_n=2", headers=auth(READER_KEY))

    assert response.status_code == 200
    assert len(response.json()["report"]["recommendations"]) == 2
    assert response.headers["ratelimit-limit"] == "50"
    assert response.headers["x-frame-options"] == "DENY"
    assert "server" not in response.headers


def test_serve_rejects_bad_credentials_over_the_wire(server: Server) -> None:
    missing = httpx.get(f"{server.url}/api/v1/recommendations")
    query_key = httpx.get(f"{server.url}/api/v1/recommendations?api_key={READER_KEY}")
    raw = raw_request(
        server.port,
        b"GET /api/v1/recommendations HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Authorization: Bearer \xe9\xff\x80key\r\nConnection: close\r\n\r\n",
    )

    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert query_key.status_code == 400
    assert raw.startswith(b"HTTP/1.1 401 ")
    assert b"x-content-type-options: nosniff" in raw


def test_serve_ignores_forwarded_for_by_default(server: Server) -> None:
    statuses = [
        httpx.get(
            f"{server.url}/api/v1/stocks", headers={"X-Forwarded-For": f"198.51.100.{i}"}
        ).status_code
        for i in range(3)
    ]

    assert statuses == [401, 401, 429]


def test_sigterm_stops_with_exit_code_0(server: Server) -> None:
    response = httpx.get(f"{server.url}/api/v1/stocks", headers=auth(READER_KEY))
    request_id = response.headers["x-request-id"]

    code = server.stop()

    assert code == 0
    log = server.log()
    assert f"[{request_id}]" in log
    assert "Application shutdown complete" in log
    assert "stopped by SIGTERM" in log
    assert READER_KEY not in log


def test_development_profile_refuses_public_address(write_config: Callable[..., Path]) -> None:
    env = {**os.environ, "CLSTOCK_ENGINE__PROFILE": "development"}

    result = subprocess.run(
        [
            CLSTOCK,
            "--config",
            str(write_config()),
            "serve",
            "--host",
            "0.0.0.0",
            "--port",
            str(free_port()),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )

    assert result.returncode == 2
    assert "refusing to serve on '0.0.0.0'" in result.stderr
    assert "DEVELOPMENT PROFILE" in result.stderr


def test_startup_failure_exits_nonzero(write_config: Callable[..., Path]) -> None:
    config = write_config()
    config.write_text(
        config.read_text(encoding="utf-8").replace("prices", "no-such-dir", 1), encoding="utf-8"
    )

    result = subprocess.run(
        [CLSTOCK, "--config", str(config), "serve", "--port", str(free_port())],
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode != 0
    assert "does not exist" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_serve_with_workers_warns_and_stops_cleanly(
    write_config: Callable[..., Path], tmp_path: Path
) -> None:
    running = start_server(write_config(), tmp_path / "workers.log", "--workers", "2")
    try:
        response = httpx.get(f"{running.url}/api/v1/stocks", headers=auth(READER_KEY))
        code = running.stop(timeout=60)
    finally:
        running.kill()

    assert response.status_code == 200
    assert code == 0
    assert "rate limits are counted per worker process: with 2 workers" in running.log()
