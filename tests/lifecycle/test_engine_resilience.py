"""The engine under failing data sources: retries, stale fallback, skipped symbols."""

from __future__ import annotations

import os
import signal
import time

import pytest

from clstock_core.errors import (
    ConfigError,
    DataFetchError,
    ShutdownRequested,
    SourceRateLimitedError,
    SourceUnavailableError,
)
from clstock_core.lifecycle import batch_signals
from tests.lifecycle.scripted import SYMBOLS, ScriptedSource, scripted_app


def _ranked(report):
    return sorted(rec.symbol for rec in report.recommendations)


def _skipped(report):
    return {item.symbol: item.reason for item in report.skipped}


def test_whole_batch_failure_is_retried(tmp_path):
    def script(call, symbols):
        if call <= 2:
            raise SourceUnavailableError("connection reset")
        return {}

    source = ScriptedSource(script)
    with scripted_app(tmp_path, source, batch_size=10) as app:
        report = app.engine.rank()

    assert _ranked(report) == sorted(SYMBOLS)
    assert len(source.calls) == 3


def test_only_failed_symbols_are_retried(tmp_path):
    def script(call, symbols):
        return {"6758.T": SourceUnavailableError("HTTP 503")} if call == 1 else {}

    source = ScriptedSource(script)
    with scripted_app(tmp_path, source, batch_size=10) as app:
        report = app.engine.rank()

    assert _ranked(report) == sorted(SYMBOLS)
    assert source.calls == [sorted(SYMBOLS), ["6758.T"]]


def test_symbol_that_keeps_failing_is_skipped(tmp_path):
    def script(call, symbols):
        return (
            {"9984.T": SourceUnavailableError("HTTP 502 from upstream")}
            if "9984.T" in symbols
            else {}
        )

    source = ScriptedSource(script)
    with scripted_app(tmp_path, source) as app:
        report = app.engine.rank()

    assert _ranked(report) == ["6758.T", "7203.T"]
    assert _skipped(report)["9984.T"] == "HTTP 502 from upstream (gave up after 3 attempts)"
    assert sum(1 for call in source.calls if call == ["9984.T"]) == 3


def test_permanent_failure_is_not_retried(tmp_path):
    def script(call, symbols):
        return {"7203.T": DataFetchError("malformed CSV")} if "7203.T" in symbols else {}

    source = ScriptedSource(script)
    with scripted_app(tmp_path, source) as app:
        report = app.engine.rank()

    assert _skipped(report)["7203.T"] == "malformed CSV"
    assert source.calls.count(["7203.T"]) == 1


def test_short_retry_after_is_waited_for(tmp_path):
    def script(call, symbols):
        return (
            {symbols[0]: SourceRateLimitedError("HTTP 429", retry_after=0.2)} if call == 1 else {}
        )

    source = ScriptedSource(script)
    with scripted_app(tmp_path, source) as app:
        started = time.monotonic()
        report = app.engine.rank()
        elapsed = time.monotonic() - started

    assert _ranked(report) == sorted(SYMBOLS)
    assert not any(rec.stale for rec in report.recommendations)
    assert elapsed >= 0.2


def _warm_cache(tmp_path):
    with scripted_app(tmp_path, ScriptedSource(), cache="pickle") as app:
        report = app.engine.rank()
    return {rec.symbol: rec.as_of for rec in report.recommendations}


def test_rate_limited_source_serves_stale_cache(tmp_path):
    as_of = _warm_cache(tmp_path)

    def script(call, symbols):
        raise SourceRateLimitedError("HTTP 429 Too Many Requests", retry_after=600)

    source = ScriptedSource(script)
    # Another history length changes the exact-range cache key, so only the
    # "last known" entries can serve the request.
    with scripted_app(tmp_path, source, cache="pickle", history_days=15000) as app:
        started = time.monotonic()
        report = app.engine.rank()
        elapsed = time.monotonic() - started

    assert _ranked(report) == sorted(SYMBOLS)
    assert all(rec.stale for rec in report.recommendations)
    assert {rec.symbol: rec.as_of for rec in report.recommendations} == as_of
    assert len(source.calls) == 1, "later batches must not call a source that asked for a pause"
    assert elapsed < 5


def test_rate_limited_symbol_without_cache_is_skipped(tmp_path):
    def script(call, symbols):
        raise SourceRateLimitedError("HTTP 429 Too Many Requests", retry_after=600)

    with scripted_app(tmp_path, ScriptedSource(script), cache="pickle") as app:
        report = app.engine.rank()

    assert report.recommendations == []
    assert set(_skipped(report)) == set(SYMBOLS)
    first, *later = sorted(SYMBOLS)
    assert _skipped(report)[first] == "HTTP 429 Too Many Requests"
    for symbol in later:
        assert "the data source is rate limited for another" in _skipped(report)[symbol]


def test_signal_interrupts_backoff_wait(tmp_path):
    def script(call, symbols):
        if call == 1:
            os.kill(os.getpid(), signal.SIGTERM)
        raise SourceRateLimitedError("HTTP 429", retry_after=0.5)

    source = ScriptedSource(script)
    app = scripted_app(tmp_path, source, retry_max_delay=10)
    started = time.monotonic()
    with pytest.raises(ShutdownRequested) as caught, batch_signals(app):
        app.engine.rank()

    assert caught.value.exit_code == 143
    assert time.monotonic() - started < 0.4
    assert len(source.calls) == 1


@pytest.mark.parametrize(
    ("key", "value"), [("fetch_attempts", 0), ("retry_initial_delay", -1), ("retry_max_delay", 601)]
)
def test_invalid_retry_settings_are_rejected(tmp_path, key, value):
    with pytest.raises(ConfigError, match=key):
        scripted_app(tmp_path, ScriptedSource(), **{key: value})
