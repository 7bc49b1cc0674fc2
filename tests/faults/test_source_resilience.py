"""A real ``clstock recommend`` against a failing and a rate-limiting HTTP source on 127.0.0.1."""

from __future__ import annotations

import json
import time
from pathlib import Path

from tests.faults.processes import clstock_env, price_csv, run_clstock
from tests.stub_server import Reply, StubServer

PLUGIN = "stub-http=tests.faults.stub_http_source"


def _config(tmp_path: Path, base_url: str, symbols: list[str], source: dict, engine: dict) -> Path:
    marker_dir = tmp_path / "markers"
    marker_dir.mkdir(exist_ok=True)
    source_lines = "\n".join(f"{key} = {value!r}" for key, value in source.items())
    engine_lines = "\n".join(f"{key} = {value!r}" for key, value in engine.items())
    config = tmp_path / "stub.toml"
    config.write_text(
        f"""
[data_source]
use = "stub-http"
[data_source.stub-http]
base_url = "{base_url}"
symbols = {symbols!r}
marker_dir = "{marker_dir.as_posix()}"
{source_lines}
[cache]
use = "pickle"
[engine]
batch_size = 10
{engine_lines}
""",
        encoding="utf-8",
    )
    return config


def _seed(path: str) -> int:
    return int(path.split("/")[-1][:4])


def _recommend(config: Path, env: dict) -> tuple[dict, str]:
    result = run_clstock(
        ["--config", str(config), "recommend", "--format", "json", "--top", "20"], env
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout), result.stderr


def test_source_failing_first_calls_then_succeeding(tmp_path):
    symbols = ["7203.T", "6758.T", "9984.T"]
    broken = "/prices/9984.T.csv"

    def respond(method, path, count):
        if path == broken or count <= 4:
            return Reply(503, b"upstream unavailable")
        return Reply(200, price_csv(_seed(path)))

    with StubServer(respond) as server:
        config = _config(
            tmp_path,
            server.url,
            symbols,
            source={"retries": 2, "backoff_factor": 0.01},
            engine={"history_days": 20000, "fetch_attempts": 3, "retry_initial_delay": 0.05},
        )
        report, stderr = _recommend(config, clstock_env(tmp_path, CLSTOCK_PLUGINS=PLUGIN))
        counts = {
            path: server.count(path) for path in {request.path for request in server.requests}
        }

    assert sorted(rec["symbol"] for rec in report["recommendations"]) == ["6758.T", "7203.T"]
    assert not any(rec["stale"] for rec in report["recommendations"])
    skipped = {item["symbol"]: item["reason"] for item in report["skipped"]}
    assert skipped == {"9984.T": "HTTP 503 for 9984.T (gave up after 3 attempts)"}
    # Per attempt, the session sends one request and two retries; the engine
    # makes the second attempt after the first one's three 503s.
    assert counts["/prices/7203.T.csv"] == 5
    assert counts["/prices/6758.T.csv"] == 5
    assert counts[broken] == 9
    assert "retrying in" in stderr


def test_rate_limited_source_serves_stale_cache(tmp_path):
    cached = ["7203.T", "6758.T"]
    limited = {"on": False}

    def respond(method, path, count):
        if limited["on"]:
            return Reply(429, b"slow down", headers={"Retry-After": "1"})
        return Reply(200, price_csv(_seed(path)))

    env = clstock_env(tmp_path, CLSTOCK_PLUGINS=PLUGIN)
    source = {"retries": 1, "max_retry_after": 5.0}
    with StubServer(respond) as server:
        warm = _config(tmp_path, server.url, cached, source, {"history_days": 20000})
        first, _ = _recommend(warm, env)

        limited["on"] = True
        before = len(server.requests)
        # A new history length misses the exact-range cache entries, so only
        # the "last known" entries can answer; 1301.T was never cached.
        engine = {"history_days": 15000, "fetch_attempts": 3, "retry_max_delay": 0.5}
        config = _config(tmp_path, server.url, [*cached, "1301.T"], source, engine)
        started = time.monotonic()
        report, stderr = _recommend(config, env)
        elapsed = time.monotonic() - started
        limited_requests = server.requests[before:]

    as_of = {rec["symbol"]: rec["as_of"] for rec in first["recommendations"]}
    assert sorted(rec["symbol"] for rec in report["recommendations"]) == sorted(cached)
    assert all(rec["stale"] for rec in report["recommendations"])
    assert {rec["symbol"]: rec["as_of"] for rec in report["recommendations"]} == as_of
    assert {item["symbol"]: item["reason"] for item in report["skipped"]} == {
        "1301.T": "HTTP 429 for 1301.T"
    }
    # The session honoured Retry-After once; the engine did not wait for a
    # pause longer than retry_max_delay and stopped calling the source.
    assert len(limited_requests) == 2
    assert limited_requests[1].time - limited_requests[0].time >= 0.95
    assert elapsed < 15
    assert "serving the cached history" in stderr
