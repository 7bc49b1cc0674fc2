"""SIGTERM to a real ``clstock serve`` with slow requests in flight."""

from __future__ import annotations

import signal
import socket
import threading
from pathlib import Path

import requests

from tests.faults.processes import (
    app_temp_dir,
    clstock_env,
    leftover_files,
    start_clstock,
    wait_until,
)

SLOW_SECONDS = 2.0
IN_FLIGHT = 3


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _ready(base_url: str) -> bool:
    try:
        return requests.get(f"{base_url}/api/v1/ready", timeout=1).status_code == 200
    except requests.ConnectionError:
        return False


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


def test_sigterm_lets_requests_finish_and_runs_handlers_once(tmp_path, price_dir):
    markers = tmp_path / "markers"
    markers.mkdir()
    port = _free_port()
    config = tmp_path / "serve.toml"
    config.write_text(
        f"""
[data_source]
use = "csv"
[data_source.csv]
directory = "{price_dir.as_posix()}"
[cache]
use = "pickle"
[engine]
history_days = 20000
[frontend.http]
port = {port}
graceful_shutdown_seconds = 10
""",
        encoding="utf-8",
    )
    env = clstock_env(
        tmp_path,
        CLSTOCK_PLUGINS="slow-route=tests.faults.slow_route_plugin",
        CLSTOCK_TEST_MARKER_DIR=str(markers),
    )
    base_url = f"http://127.0.0.1:{port}"
    responses: dict[int, requests.Response | Exception] = {}

    def call(index: int) -> None:
        try:
            responses[index] = requests.get(
                f"{base_url}/test/slow", params={"seconds": SLOW_SECONDS, "id": index}, timeout=30
            )
        except requests.RequestException as error:
            responses[index] = error

    server = start_clstock(["--config", str(config), "serve"], env)
    try:
        wait_until(lambda: server.poll() is not None or _ready(base_url), 60, "the server is ready")
        assert server.poll() is None, server.communicate()[1]
        clients = [threading.Thread(target=call, args=(index,)) for index in range(IN_FLIGHT)]
        for client in clients:
            client.start()
        wait_until(
            lambda: len(_lines(markers / "started")) == IN_FLIGHT, 10, "every slow request started"
        )

        server.send_signal(signal.SIGTERM)
        out, err = server.communicate(timeout=30)
        for client in clients:
            client.join(30)
    finally:
        server.kill()
        server.communicate()

    assert server.returncode == 0, err
    for index in range(IN_FLIGHT):
        response = responses[index]
        assert isinstance(response, requests.Response), response
        assert (response.status_code, response.text) == (200, "completed")
    assert _lines(markers / "hook") == [str(server.pid)]
    assert _lines(markers / "handler") == [str(server.pid)]
    assert not Path((markers / "tempfile").read_text(encoding="utf-8")).exists()
    assert leftover_files(app_temp_dir(env)) == []
    assert leftover_files(tmp_path / "xdg-cache" / "clstock" / "pickle") == []
    assert "Traceback" not in err
    assert not _ready(base_url), "the server must not accept requests after it stopped"
