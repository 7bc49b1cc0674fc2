"""SIGINT/SIGTERM handling of batch work and servers, in this process and in children."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from clstock_core.errors import ShutdownRequested
from clstock_core.lifecycle import batch_signals, server_signals
from tests.lifecycle.scripted import ScriptedSource, scripted_app


def _wait_for(event, timeout=2.0):
    deadline = time.monotonic() + timeout
    while not event.is_set() and time.monotonic() < deadline:
        time.sleep(0.001)


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_stops_batch_with_exit_code(tmp_path, signum, code):
    app = scripted_app(tmp_path, ScriptedSource())
    closed = []
    app.shutdown.register("probe", lambda: closed.append(1))
    before = signal.getsignal(signum)

    with pytest.raises(ShutdownRequested) as caught, batch_signals(app) as stop:
        os.kill(os.getpid(), signum)
        _wait_for(app.cancel)
        assert stop.requested
        stop.check()

    assert caught.value.exit_code == code
    assert caught.value.signal_name == signal.Signals(signum).name
    assert closed == [1]
    assert signal.getsignal(signum) is before


def test_result_of_block_is_discarded_after_signal(tmp_path):
    app = scripted_app(tmp_path, ScriptedSource())
    results = []

    with pytest.raises(ShutdownRequested), batch_signals(app):
        os.kill(os.getpid(), signal.SIGINT)
        _wait_for(app.cancel)
        results.append("finished without a check")

    assert app.shutdown.has_run


def test_error_after_signal_becomes_shutdown(tmp_path):
    app = scripted_app(tmp_path, ScriptedSource())

    with pytest.raises(ShutdownRequested) as caught, batch_signals(app):
        os.kill(os.getpid(), signal.SIGTERM)
        _wait_for(app.cancel)
        raise ValueError("interrupted work failed")

    assert isinstance(caught.value.__cause__, ValueError)


def test_block_without_signal_leaves_app_open(tmp_path):
    app = scripted_app(tmp_path, ScriptedSource())
    before = signal.getsignal(signal.SIGINT)

    with batch_signals(app) as stop:
        assert not stop.requested

    assert not app.shutdown.has_run
    assert signal.getsignal(signal.SIGINT) is before
    app.close()


def test_engine_stops_between_batches(tmp_path):
    def script(call, symbols):
        if call == 1:
            os.kill(os.getpid(), signal.SIGINT)
        return {}

    source = ScriptedSource(script)
    app = scripted_app(tmp_path, source)

    with pytest.raises(ShutdownRequested) as caught, batch_signals(app):
        app.engine.rank()

    assert caught.value.exit_code == 130
    assert len(source.calls) == 1


def test_batch_signals_removes_stale_temp_files(tmp_path):
    app = scripted_app(tmp_path, ScriptedSource())
    app.tempfiles = type(app.tempfiles)(tmp_path / "temp")
    leftover = app.tempfiles.root / "clstock-999999999-abcdef"
    leftover.write_text("crashed run")
    os.utime(leftover, (1, 1))

    with batch_signals(app):
        pass

    assert not leftover.exists()
    app.close()


def test_second_signal_exits_immediately(tmp_path):
    script = textwrap.dedent(
        """
        import os, signal, sys, time
        from tests.lifecycle.scripted import ScriptedSource, scripted_app
        from clstock_core.lifecycle import batch_signals
        from pathlib import Path

        app = scripted_app(Path(sys.argv[1]), ScriptedSource())
        # A shutdown handler that hangs, so only the second signal can end the process.
        app.shutdown.register("hangs", lambda: time.sleep(30), timeout=60)
        with batch_signals(app):
            print("ready", flush=True)
            while True:
                time.sleep(0.01)
        """
    )
    with subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    ) as child:
        try:
            assert child.stdout.readline().strip() == "ready"
            child.send_signal(signal.SIGTERM)
            time.sleep(0.3)
            assert child.poll() is None, (
                "the first signal alone must not end a run whose handler hangs"
            )
            child.send_signal(signal.SIGINT)
            code = child.wait(timeout=10)
            stderr = child.stderr.read()
        finally:
            child.kill()

    assert code == 130
    assert "second SIGINT, exiting immediately" in stderr
    assert "Traceback" not in stderr


def test_server_signal_before_start_stops_startup():
    with server_signals() as signals:
        with pytest.raises(ShutdownRequested) as caught:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.5)
    assert caught.value.exit_code == 143
    assert signals.received is None


def test_server_signal_after_start_is_recorded():
    before = signal.getsignal(signal.SIGTERM)
    with server_signals() as signals:
        signals.serving()
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.05)
    assert signals.received == "SIGTERM"
    assert signal.getsignal(signal.SIGTERM) is before
