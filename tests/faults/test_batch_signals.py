"""SIGINT and SIGTERM during a real ``clstock recommend`` process."""

from __future__ import annotations

import json
import os
import pickle
import signal
from pathlib import Path

import pytest
from clstock_csv.source import CsvSource
from clstock_pickle.entry import decode

from tests.faults.processes import (
    REPO,
    app_temp_dir,
    clstock_env,
    leftover_files,
    price_csv,
    run_clstock,
    start_clstock,
    wait_until,
)
from tests.stub_server import Reply, StubServer

STOPPED = "clstock: stopped by {}; partial results discarded"


def _verify_entries(cache_dir: Path, secret_file: Path) -> int:
    """Check the signature of every entry and unpickle it; return how many there are."""
    secret = secret_file.read_bytes()
    entries = sorted(cache_dir.glob("*.entry"))
    for path in entries:
        _header, payload = decode(secret, bytes.fromhex(path.stem), path.read_bytes())
        assert len(pickle.loads(payload)) > 0
    return len(entries)


@pytest.mark.realdata
def test_sigint_during_recommend_on_real_data(tmp_path, real_data_dir):
    env = clstock_env(tmp_path, CLSTOCK_DATA_DIR=str(real_data_dir))
    cache_dir = tmp_path / "xdg-cache" / "clstock" / "pickle"
    secret_file = tmp_path / "xdg-data" / "clstock" / "cache-hmac.key"
    config = ["--config", str(REPO / "examples" / "tse-offline.toml")]
    args = [*config, "recommend", "--top", "5", "--format", "json"]

    child = start_clstock(args, env)
    try:
        # Signal only once loading is under way, so the run has work to abandon.
        wait_until(
            lambda: cache_dir.exists() and any(cache_dir.glob("*.entry")),
            60,
            "the first batch is cached",
        )
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=60)
    finally:
        child.kill()
        child.communicate()

    assert child.returncode == 130
    assert out == ""
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == STOPPED.format("SIGINT")
    assert leftover_files(app_temp_dir(env)) == []
    assert leftover_files(cache_dir) == []
    cached = _verify_entries(cache_dir, secret_file)
    assert 0 < cached < 500, "the run must have stopped before caching the whole universe"

    # The next run reads what the stopped one cached.
    universe = CsvSource(real_data_dir / "prices", real_data_dir / "symbols.csv").list_stocks()
    first = sorted(stock.symbol for stock in universe)[:3]
    again = run_clstock(
        ["--debug", *config, "recommend", "--format", "json", *(f"--symbol={t}" for t in first)],
        env,
    )
    assert again.returncode == 0, again.stderr
    assert sorted(rec["symbol"] for rec in json.loads(again.stdout)["recommendations"]) == first
    assert "pickle cache: 3 hits, 0 misses" in again.stderr


def _stub_config(tmp_path: Path, base_url: str, symbols: list[str], **engine: object) -> Path:
    marker_dir = tmp_path / "markers"
    marker_dir.mkdir(exist_ok=True)
    settings = {"history_days": 20000, "batch_size": 1, "fetch_attempts": 1, **engine}
    engine_lines = "\n".join(f"{key} = {value!r}" for key, value in settings.items())
    config = tmp_path / "stub.toml"
    config.write_text(
        f"""
[data_source]
use = "stub-http"
[data_source.stub-http]
base_url = "{base_url}"
symbols = {symbols!r}
marker_dir = "{marker_dir.as_posix()}"
[cache]
use = "pickle"
[engine]
{engine_lines}
""",
        encoding="utf-8",
    )
    return config


def test_sigterm_stops_recommend_after_current_batch(tmp_path):
    symbols = ["7203.T", "6758.T", "9984.T", "8306.T", "4063.T"]

    def respond(method, path, count):
        seed = int(path.split("/")[-1][:4])
        return Reply(200, price_csv(seed), delay=0.5)

    with StubServer(respond) as server:
        config = _stub_config(tmp_path, server.url, symbols)
        env = clstock_env(tmp_path, CLSTOCK_PLUGINS="stub-http=tests.faults.stub_http_source")
        child = start_clstock(["--config", str(config), "recommend"], env)
        try:
            wait_until(lambda: len(server.requests) >= 2, 60, "the second batch is requested")
            child.send_signal(signal.SIGTERM)
            out, err = child.communicate(timeout=30)
        finally:
            child.kill()
            child.communicate()
        requests_seen = len(server.requests)

    markers = tmp_path / "markers"
    scratch = Path((markers / "scratch").read_text())
    assert child.returncode == 143
    assert out == ""
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == STOPPED.format("SIGTERM")
    assert requests_seen == 2, "no batch may start after the signal"
    assert (markers / "closed").read_text().splitlines() == [str(child.pid)]
    assert not scratch.exists()
    assert leftover_files(app_temp_dir(env)) == []
    assert leftover_files(tmp_path / "xdg-cache" / "clstock" / "pickle") == []
    assert os.listdir(tmp_path / "xdg-cache" / "clstock" / "pickle")
