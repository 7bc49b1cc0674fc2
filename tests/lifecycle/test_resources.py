"""managed_resource, network_connection and file_lock."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from clstock_core.errors import LockTimeoutError
from clstock_core.lifecycle import ShutdownManager
from clstock_core.lifecycle.resources import file_lock, managed_resource, network_connection


def test_managed_resource_cleans_up_on_exit():
    shutdown = ShutdownManager()
    released = []
    with managed_resource(
        lambda: "conn", released.append, shutdown=shutdown, name="conn"
    ) as resource:
        assert resource == "conn"
        assert released == []
    assert released == ["conn"]
    shutdown.run()
    assert released == ["conn"], "an exited resource must not be released again at shutdown"


def test_managed_resource_cleans_up_on_error():
    shutdown = ShutdownManager()
    released = []
    with pytest.raises(KeyError), managed_resource(lambda: 1, released.append, shutdown=shutdown):
        raise KeyError("boom")
    assert released == [1]


def test_shutdown_releases_open_resource_once():
    shutdown = ShutdownManager()
    released = []
    with managed_resource(lambda: "open", released.append, shutdown=shutdown, name="open"):
        shutdown.run()
        assert released == ["open"]
    assert released == ["open"]


def test_cleanup_error_after_block_error_is_logged(caplog):
    shutdown = ShutdownManager()

    def cleanup(resource):
        raise OSError("close failed")

    with caplog.at_level(logging.ERROR), pytest.raises(KeyError):
        with managed_resource(lambda: 1, cleanup, shutdown=shutdown, name="flaky"):
            raise KeyError("block failed")
    assert "cleanup of flaky failed: OSError: close failed" in caplog.text


def test_cleanup_error_without_block_error_propagates():
    shutdown = ShutdownManager()

    def cleanup(resource):
        raise OSError("close failed")

    with (
        pytest.raises(OSError, match="close failed"),
        managed_resource(lambda: 1, cleanup, shutdown=shutdown),
    ):
        pass


def test_managed_resource_after_shutdown_is_released_and_rejected():
    shutdown = ShutdownManager()
    shutdown.run()
    released = []
    with pytest.raises(RuntimeError, match="already ran"):
        with managed_resource(lambda: 1, released.append, shutdown=shutdown):
            pass
    assert released == [1]


def test_network_connection_closes_session():
    shutdown = ShutdownManager()
    with network_connection(shutdown=shutdown, read_timeout=3.0) as session:
        adapter = session.get_adapter("http://127.0.0.1/")
        assert adapter.timeout == (5.0, 3.0)
        adapter.poolmanager.connection_from_url("http://127.0.0.1:9/")
        assert len(adapter.poolmanager.pools) == 1
    assert len(adapter.poolmanager.pools) == 0


def test_file_lock_records_pid_and_releases(tmp_path):
    path = tmp_path / "job.lock"
    with file_lock(path, timeout=1.0):
        assert path.read_text().strip() == str(os.getpid())
    assert path.read_text() == ""
    with file_lock(path, timeout=0):
        pass


def test_file_lock_unlink_removes_file(tmp_path):
    path = tmp_path / "key.lock"
    with file_lock(path, timeout=1.0, unlink=True):
        assert path.exists()
    assert not path.exists()


def test_file_lock_excludes_threads(tmp_path):
    path = tmp_path / "shared.lock"
    inside = []
    overlaps = []

    def worker():
        for _ in range(50):
            with file_lock(path, timeout=5.0, unlink=True):
                inside.append(1)
                if len(inside) > 1:
                    overlaps.append(1)
                time.sleep(0.0005)
                inside.pop()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert overlaps == []


HOLDER = """
import sys, time
from clstock_core.lifecycle.resources import file_lock
with file_lock(sys.argv[1], timeout=1.0):
    print("locked", flush=True)
    time.sleep(60)
"""


def _start_holder(path):
    child = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout.readline().strip() == "locked"
    return child


def test_lock_timeout_names_path_and_holder(tmp_path):
    path = tmp_path / "held.lock"
    child = _start_holder(path)
    try:
        started = time.monotonic()
        with pytest.raises(LockTimeoutError) as caught, file_lock(path, timeout=0.3):
            pass
        elapsed = time.monotonic() - started
    finally:
        child.kill()
        child.wait()
        child.stdout.close()

    assert caught.value.holder_pid == child.pid
    assert str(path) in str(caught.value)
    assert f"process {child.pid}" in str(caught.value)
    assert 0.3 <= elapsed < 2.0


def test_lock_of_killed_holder_is_free(tmp_path):
    path = tmp_path / "crash.lock"
    child = _start_holder(path)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    child.stdout.close()
    with file_lock(path, timeout=1.0):
        assert path.read_text().strip() == str(os.getpid())
