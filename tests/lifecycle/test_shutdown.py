"""The shutdown manager and the application's close()."""

from __future__ import annotations

import logging
import os
import threading
import time

import pytest

from clstock_core.app import Application
from clstock_core.lifecycle import ShutdownManager
from clstock_core.markers import hookimpl
from clstock_core.registry import NoSettings


def test_handlers_run_in_reverse_order():
    manager = ShutdownManager()
    calls = []
    for name in ("first", "second", "third"):
        manager.register(name, lambda name=name: calls.append(name))

    assert manager.run() == []
    assert calls == ["third", "second", "first"]


def test_handlers_run_exactly_once():
    manager = ShutdownManager()
    calls = []
    manager.register("once", lambda: calls.append(1))

    manager.run()
    manager.run()

    assert calls == [1]
    assert manager.has_run


def test_concurrent_runs_call_each_handler_once():
    manager = ShutdownManager()
    calls = []
    manager.register("slow", lambda: (time.sleep(0.05), calls.append(1)))

    threads = [threading.Thread(target=manager.run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert calls == [1]
    assert manager.wait(1.0)


def test_failing_handler_is_logged_and_others_run(caplog):
    manager = ShutdownManager()
    calls = []
    manager.register("before", lambda: calls.append("before"))
    manager.register("broken", lambda: 1 / 0)
    manager.register("after", lambda: calls.append("after"))

    with caplog.at_level(logging.ERROR):
        failed = manager.run()

    assert failed == ["broken"]
    assert calls == ["after", "before"]
    assert "'broken' failed: ZeroDivisionError" in caplog.text


def test_hanging_handler_times_out(caplog):
    manager = ShutdownManager()
    release = threading.Event()
    calls = []
    manager.register("first", lambda: calls.append("first"))
    manager.register("hangs", release.wait, timeout=0.2)

    started = time.monotonic()
    with caplog.at_level(logging.ERROR):
        failed = manager.run()
    elapsed = time.monotonic() - started
    release.set()

    assert failed == ["hangs"]
    assert calls == ["first"]
    assert elapsed < 2.0
    assert "'hangs' did not finish within 0.2 s" in caplog.text


def test_unregistered_handler_does_not_run():
    manager = ShutdownManager()
    calls = []
    unregister = manager.register("gone", lambda: calls.append(1))

    unregister()
    manager.run()

    assert calls == []


def test_register_after_run_is_rejected():
    manager = ShutdownManager()
    manager.run()
    with pytest.raises(RuntimeError, match="already ran"):
        manager.register("late", lambda: None)


def test_register_rejects_zero_timeout():
    with pytest.raises(ValueError, match="timeout must be positive"):
        ShutdownManager().register("bad", lambda: None, timeout=0)


class _Recorder:
    """A plugin with a predictor that has close() and a clstock_shutdown hook."""

    def __init__(self, calls, *, fail=False):
        self.calls = calls
        self.fail = fail

    @hookimpl
    def clstock_register_predictors(self, register):
        calls = self.calls

        class Closable:
            name = "closable"

            def predict(self, panel):
                raise NotImplementedError

            def close(self):
                calls.append("component")

        register("closable", lambda settings, app: Closable(), settings=NoSettings)

    @hookimpl
    def clstock_shutdown(self, app):
        self.calls.append("hook")
        if self.fail:
            raise RuntimeError("hook failed")


def test_app_close_order_components_hooks_tempfiles(offline_config, tmp_path, monkeypatch):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    calls = []
    app = Application(
        offline_config,
        environ={"CLSTOCK_PREDICTORS__USE": '["closable"]'},
        extra_plugins=[("recorder", _Recorder(calls))],
    )
    app.component("predictors", "closable")
    temp = app.tempfiles.file()
    assert temp.parent == tmp_path / f"clstock-{os.getuid()}"
    app.shutdown.register("programmatic", lambda: calls.append("programmatic"))

    app.close()
    app.close()

    assert calls == ["programmatic", "component", "hook"]
    assert not temp.exists()


def test_failing_plugin_hook_is_logged_with_name(offline_config, caplog):
    calls = []
    app = Application(
        offline_config,
        environ={"CLSTOCK_PREDICTORS__USE": '["closable"]'},
        extra_plugins=[("recorder", _Recorder(calls, fail=True))],
    )
    app.component("predictors", "closable")

    with caplog.at_level(logging.ERROR):
        app.close()

    assert calls == ["component", "hook"]
    assert "'plugin:recorder' failed: RuntimeError: hook failed" in caplog.text
