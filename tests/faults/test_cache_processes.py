"""The pickle cache under real processes: kill -9, concurrent writers, planted and damaged files."""

from __future__ import annotations

import json
import os
import pickle
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from clstock_pickle.backend import MIB, PickleCache
from clstock_pickle.entry import HEADER, key_digest

from tests.faults.cache_worker import is_complete

REPO = Path(__file__).resolve().parents[2]
KEYS = ["history:v1:csv:7203.T", "history:v1:csv:6758.T", "history-last:v1:csv:9984.T"]


@pytest.fixture
def store(tmp_path):
    return tmp_path / "cache", tmp_path / "key" / "cache-hmac.key"


def _env():
    return {**os.environ, "PYTHONPATH": str(REPO)}


def _start(mode, store, seconds, keys=KEYS):
    directory, secret = store
    command = [
        sys.executable,
        "-m",
        "tests.faults.cache_worker",
        mode,
        str(directory),
        str(secret),
        str(seconds),
        *keys,
    ]
    child = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(), cwd=REPO
    )
    assert child.stdout.readline().strip() == "started"
    return child


def _finish(child, timeout=30):
    out, err = child.communicate(timeout=timeout)
    assert child.returncode == 0, f"worker failed: {out} {err}"
    return json.loads(out.strip().splitlines()[-1])


def _temp_files(directory, pid=None):
    prefix = ".tmp-" if pid is None else f".tmp-{pid}-"
    return [name for name in os.listdir(directory) if name.startswith(prefix)]


def _open_cache(store):
    directory, secret = store
    return PickleCache(directory, secret, max_size_bytes=1024 * MIB, default_ttl=0)


def test_kill_9_writer_never_exposes_partial_entries(store):
    readers = [_start("read", store, 4.5) for _ in range(2)]
    killed = []
    leftovers = 0
    for _ in range(5):
        writer = _start("write", store, 60)
        time.sleep(random.uniform(0.2, 0.5))
        writer.send_signal(signal.SIGKILL)
        writer.communicate(timeout=10)
        killed.append(writer.pid)
        leftovers += len(_temp_files(store[0], writer.pid))

    for reader in readers:
        result = _finish(reader)
        assert result["damaged"] == 0
        assert result["rejected"] == 0, result["rejections"]
        assert result["vanished"] == 0
        assert result["hits"] > 0

    # The next run works on what the killed writers left behind.
    after = _finish(_start("mixed", store, 1.0))
    assert after["writes"] > 0
    assert after["hits"] > 0
    assert after["rejected"] == 0

    cache = _open_cache(store)
    cache.prune()
    for pid in killed:
        assert _temp_files(store[0], pid) == []
    for key in KEYS:
        assert is_complete(key, cache.get(key))
    print(f"temp files left by kill -9: {leftovers}")


def test_concurrent_writers_and_readers_see_complete_entries(store):
    workers = [_start("mixed", store, 4.0) for _ in range(2)]
    results = [_finish(worker) for worker in workers]
    for result in results:
        assert result["writes"] > 10
        assert result["hits"] > 10
        assert result["damaged"] == 0
        assert result["rejected"] == 0, result["rejections"]
        assert result["vanished"] == 0
    assert _temp_files(store[0]) == []


PROBE = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from clstock_pickle.backend import PickleCache

    cache = PickleCache(Path(sys.argv[1]), Path(sys.argv[2]), max_size_bytes=10**8)
    key = sys.argv[3]
    first = cache.get(key)
    cache.set(key, {"fresh": key})
    print(json.dumps({"first": repr(first), "second": cache.get(key)}))
    """
)


def _probe(store, key):
    directory, secret = store
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(directory), str(secret), key],
        capture_output=True,
        text=True,
        env=_env(),
        cwd=REPO,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout), result.stderr


class _CreatesMarker:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (str(self.path), "w"))


def _entry_path(store, key):
    _open_cache(store)  # creates the directory and the key file
    return store[0] / f"{key_digest(key).hex()}.entry"


@pytest.mark.parametrize("layout", ["raw-pickle", "forged-header"])
def test_planted_pickle_is_rejected_unloaded(store, tmp_path, layout):
    marker = tmp_path / "marker-created-by-unpickling"
    evil = pickle.dumps(_CreatesMarker(marker), protocol=5)
    pickle.loads(evil).close()
    assert marker.exists(), "the planted pickle must be able to create the marker"
    marker.unlink()

    key = KEYS[0]
    data = evil
    if layout == "forged-header":
        header = HEADER.pack(b"CLSC", 1, 0, time.time(), 0.0, len(evil), key_digest(key))
        data = header + evil + os.urandom(32)
    _entry_path(store, key).write_bytes(data)

    result, stderr = _probe(store, key)

    assert result == {"first": "None", "second": {"fresh": key}}
    assert not marker.exists()
    assert "is invalid" in stderr


@pytest.mark.parametrize("damage", ["empty", "half"])
def test_damaged_file_is_logged_miss_and_replaced(store, damage):
    key = KEYS[1]
    cache = _open_cache(store)
    cache.set(key, {"complete": True, "rows": list(range(1000))})
    path = _entry_path(store, key)
    data = path.read_bytes()
    path.write_bytes(b"" if damage == "empty" else data[: len(data) // 2])

    result, stderr = _probe(store, key)

    assert result == {"first": "None", "second": {"fresh": key}}
    assert "is invalid" in stderr
    assert str(path) in stderr
    assert cache.get(key) == {"fresh": key}
