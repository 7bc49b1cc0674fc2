"""clstock cache stats|clear|prune."""

from __future__ import annotations

import json
import time

import pytest

from clstock_core.app import Application
from clstock_core.cli.main import main


@pytest.fixture
def pickle_config(tmp_path, offline_config):
    config = tmp_path / "pickle.toml"
    text = offline_config.read_text().replace(
        'use = "none"',
        f'use = "pickle"\n[cache.pickle]\ndirectory = "{(tmp_path / "cache").as_posix()}"',
    )
    config.write_text(text, encoding="utf-8")
    return config


def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _fill(config):
    with Application(config, environ={}) as app:
        app.engine.rank()
        cache = app.component("cache")
        cache.set("expired", 1, ttl=0.01)
    time.sleep(0.05)


def test_stats_table(capsys, pickle_config, tmp_path):
    _fill(pickle_config)
    code, out, _ = run(capsys, "--config", str(pickle_config), "cache", "stats")
    assert code == 0
    lines = dict(line.split(None, 1) for line in out.splitlines())
    assert lines["backend"] == "pickle"
    assert lines["location"] == str(tmp_path / "cache")
    assert lines["entries"] == "13"
    assert lines["expired"] == "1"
    assert lines["size"].endswith("of 512.0 MiB")


def test_stats_json(capsys, pickle_config):
    _fill(pickle_config)
    code, out, _ = run(capsys, "--config", str(pickle_config), "cache", "stats", "--format", "json")
    assert code == 0
    stats = json.loads(out)
    assert stats["entries"] == 13
    assert stats["expired_entries"] == 1
    assert stats["max_size_bytes"] == 512 * 1024 * 1024


def test_prune_then_clear(capsys, pickle_config):
    _fill(pickle_config)
    code, out, _ = run(capsys, "--config", str(pickle_config), "cache", "prune")
    assert (code, out.strip()) == (0, "pruned 1 entries from the pickle cache")
    code, out, _ = run(capsys, "--config", str(pickle_config), "cache", "clear")
    assert (code, out.strip()) == (0, "removed 12 entries from the pickle cache")
    code, out, _ = run(capsys, "--config", str(pickle_config), "cache", "stats", "--format", "json")
    assert json.loads(out)["entries"] == 0


def test_cache_off_is_reported(capsys, offline_config):
    code, out, err = run(capsys, "--config", str(offline_config), "cache", "clear")
    assert code == 0
    assert out == ""
    assert 'the cache is off ([cache] use = "none")' in err


def test_backend_without_stats_is_an_error(capsys, tmp_path, offline_config, monkeypatch):
    from clstock_pickle import backend

    monkeypatch.delattr(backend.PickleCache, "stats")
    config = tmp_path / "pickle.toml"
    config.write_text(
        offline_config.read_text().replace('use = "none"', 'use = "pickle"'), encoding="utf-8"
    )
    code, _, err = run(capsys, "--config", str(config), "cache", "stats")
    assert code == 1
    assert "cache backend 'pickle' does not support 'stats'" in err
