"""The pickle cache backend: round trips, TTL, eviction, verification and degradation."""

from __future__ import annotations

import hmac
import logging
import os
import pickle
import stat
import threading
import time

import numpy as np
import pandas as pd
import pytest
from clstock_pickle.backend import PickleCache
from clstock_pickle.entry import HEADER, OVERHEAD, TAG_SIZE, encode, key_digest
from clstock_pickle.secret import load_or_create_secret

from clstock_core.app import Application
from clstock_core.roles import CacheBackend
from tests.helpers import make_ohlcv


def _entry(cache, key):
    return cache.directory / f"{key_digest(key).hex()}.entry"


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_round_trip_of_price_history(cache):
    frame = make_ohlcv(300, seed=3)
    cache.set("history:7203.T", frame)
    loaded = cache.get("history:7203.T")
    pd.testing.assert_frame_equal(loaded, frame)


def test_loaded_arrays_are_writable(cache):
    cache.set("array", np.arange(5.0))
    loaded = cache.get("array")
    loaded[0] = 42.0
    assert loaded[0] == 42.0


def test_missing_key_is_a_miss(cache):
    assert cache.get("absent") is None
    assert cache.misses == 1


def test_follows_cache_backend_protocol(cache):
    assert isinstance(cache, CacheBackend)


@pytest.mark.parametrize(
    "key", ["", "a/b/../../etc/passwd", "キャッシュ", "x" * 5000, "nul\x00byte"]
)
def test_any_key_maps_to_a_safe_file_name(cache, key):
    cache.set(key, {"key": key})
    assert cache.get(key) == {"key": key}
    names = os.listdir(cache.directory)
    assert names == [f"{key_digest(key).hex()}.entry"]


def test_permissions_are_private(cache, tmp_path):
    cache.set("k", 1)
    assert _mode(cache.directory) == 0o700
    assert _mode(_entry(cache, "k")) == 0o600
    assert _mode(cache.secret_path) == 0o600


def test_existing_directory_is_made_private(make_cache, tmp_path):
    (tmp_path / "cache").mkdir(mode=0o755)
    os.chmod(tmp_path / "cache", 0o755)
    make_cache()
    assert _mode(tmp_path / "cache") == 0o700


def test_entry_expires_and_is_removed(cache):
    cache.set("short", "value", ttl=0.05)
    assert cache.get("short") == "value"
    time.sleep(0.1)
    assert cache.get("short") is None
    assert not _entry(cache, "short").exists()


def test_default_ttl_applies(make_cache):
    cache = make_cache(default_ttl=0.05)
    cache.set("k", 1)
    time.sleep(0.1)
    assert cache.get("k") is None


def test_zero_default_ttl_never_expires(make_cache):
    cache = make_cache(default_ttl=0)
    cache.set("k", 1)
    assert cache.get("k") == 1
    with open(_entry(cache, "k"), "rb") as handle:
        assert HEADER.unpack(handle.read(HEADER.size))[4] == 0.0


def test_non_positive_ttl_deletes(cache):
    cache.set("k", 1)
    cache.set("k", 2, ttl=0)
    assert cache.get("k") is None


def test_delete_and_clear(cache):
    for index in range(5):
        cache.set(f"k{index}", index)
    cache.delete("k0")
    cache.delete("never-set")
    assert cache.get("k0") is None
    assert cache.clear() == 4
    assert cache.get("k1") is None
    assert cache.stats().entries == 0


def test_stats_counts_entries_and_expired(cache):
    cache.set("a", b"x" * 1000)
    cache.set("b", b"y" * 1000, ttl=0.01)
    time.sleep(0.05)
    stats = cache.stats()
    assert stats.backend == "pickle"
    assert stats.entries == 2
    assert stats.expired_entries == 1
    assert stats.size_bytes == sum(p.stat().st_size for p in cache.directory.glob("*.entry"))
    assert stats.location == str(cache.directory)


def test_prune_removes_expired_malformed_and_leftovers(cache):
    cache.set("fresh", 1)
    cache.set("old", 2, ttl=0.01)
    malformed = cache.directory / f"{key_digest('bad').hex()}.entry"
    malformed.write_bytes(b"garbage")
    dead_temp = cache.directory / ".tmp-999999999-leftover"
    dead_temp.write_bytes(b"partial")
    orphan_lock = cache.directory / f"{key_digest('x').hex()}.lock"
    orphan_lock.write_text("999999999\n")
    unrelated = cache.directory / "notes.txt"
    unrelated.write_text("keep")
    time.sleep(0.05)

    assert cache.prune() == 2

    assert cache.get("fresh") == 1
    assert not malformed.exists()
    assert not dead_temp.exists()
    assert not orphan_lock.exists()
    assert unrelated.exists()


def test_first_write_removes_dead_writers_temp_files(cache):
    dead_temp = cache.directory / ".tmp-999999999-leftover"
    dead_temp.write_bytes(b"partial")
    live_temp = cache.directory / f".tmp-{os.getppid()}-inflight"
    live_temp.write_bytes(b"being written")

    cache.set("k", 1)

    assert not dead_temp.exists()
    assert live_temp.exists()


def test_lru_eviction_keeps_recently_used(make_cache):
    cache = make_cache(max_size_bytes=50_000)
    blob = b"z" * 9_000
    for index in range(5):
        cache.set(f"k{index}", blob)
    # Make k0 the most recently used, k1 the least.
    now = time.time()
    for index in range(5):
        os.utime(_entry(cache, f"k{index}"), (now - 500 + index, now - 500 + index))
    os.utime(_entry(cache, "k0"), (now, now))

    cache.set("k5", blob)
    cache.set("k6", blob)

    # Six entries passed the limit, so the two least recently used went.
    present = {f"k{index}" for index in range(7) if _entry(cache, f"k{index}").exists()}
    assert present == {"k0", "k3", "k4", "k5", "k6"}
    assert cache.stats().size_bytes <= 50_000


def test_read_refreshes_last_use(cache):
    cache.set("k", 1)
    os.utime(_entry(cache, "k"), (1000, 1000))
    cache.get("k")
    assert _entry(cache, "k").stat().st_mtime > time.time() - 60


def test_value_larger_than_cache_is_not_stored(make_cache, caplog):
    cache = make_cache(max_size_bytes=1000)
    with caplog.at_level(logging.WARNING):
        cache.set("big", b"x" * 5000)
    assert cache.get("big") is None
    assert "more than the whole cache" in caplog.text


def test_unpicklable_value_is_logged_not_raised(cache, caplog):
    with caplog.at_level(logging.WARNING):
        cache.set("lock", threading.Lock())
    assert cache.get("lock") is None
    assert "cannot pickle the value for cache key 'lock'" in caplog.text


def _plant(cache, key, data):
    path = _entry(cache, key)
    path.write_bytes(data)
    return path


def _valid_bytes(cache, key, value, secret=None):
    payload = pickle.dumps(value, protocol=5)
    header, tag = encode(
        secret or cache._secret, key_digest(key), payload, created=time.time(), expires=0.0
    )
    return header + payload + tag


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda data: b"", id="empty"),
        pytest.param(lambda data: data[: len(data) // 2], id="half"),
        pytest.param(lambda data: data[:50], id="inside-header"),
        pytest.param(lambda data: data + b"extra", id="trailing-bytes"),
        pytest.param(lambda data: data[:-1] + bytes([data[-1] ^ 1]), id="tag-bit-flip"),
        pytest.param(
            lambda data: data[:100] + bytes([data[100] ^ 1]) + data[101:], id="payload-bit-flip"
        ),
        pytest.param(lambda data: data[:-TAG_SIZE], id="tag-missing"),
        pytest.param(
            lambda data: data[:20] + bytes([data[20] ^ 1]) + data[21:], id="expiry-changed"
        ),
        pytest.param(lambda data: b"XXXX" + data[4:], id="bad-magic"),
        pytest.param(lambda data: data[:4] + b"\x02\x00" + data[6:], id="future-version"),
    ],
)
def test_damaged_entry_is_a_logged_miss_and_deleted(cache, caplog, damage):
    path = _plant(cache, "k", damage(_valid_bytes(cache, "k", {"v": 1})))
    with caplog.at_level(logging.WARNING):
        assert cache.get("k") is None
    assert not path.exists()
    assert "is invalid" in caplog.text
    cache.set("k", {"v": 2})
    assert cache.get("k") == {"v": 2}


def test_entry_of_another_key_is_rejected(cache, caplog):
    cache.set("a", "value of a")
    os.replace(_entry(cache, "a"), _entry(cache, "b"))
    with caplog.at_level(logging.WARNING):
        assert cache.get("b") is None
    assert "belongs to another key" in caplog.text


def test_entry_signed_with_another_secret_is_rejected(cache, caplog):
    _plant(cache, "k", _valid_bytes(cache, "k", "forged", secret=b"s" * 32))
    with caplog.at_level(logging.WARNING):
        assert cache.get("k") is None
    assert "HMAC signature mismatch" in caplog.text


class _Marker:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (str(self.path), "w"))


def test_malicious_pickle_is_never_loaded(cache, tmp_path):
    marker = tmp_path / "pwned"
    evil = pickle.dumps(_Marker(marker), protocol=5)
    assert not marker.exists()

    _plant(cache, "raw", evil)
    payload_header = HEADER.pack(b"CLSC", 1, 0, time.time(), 0.0, len(evil), key_digest("signed"))
    _plant(cache, "signed", payload_header + evil + b"\x00" * 32)

    assert cache.get("raw") is None
    assert cache.get("signed") is None
    assert not marker.exists()


def test_entry_that_cannot_be_unpickled_is_removed(cache, caplog):
    payload = pickle.dumps(make_ohlcv(5), protocol=5).replace(b"pandas", b"pandaz")
    header, tag = encode(cache._secret, key_digest("k"), payload, created=time.time(), expires=0.0)
    path = _plant(cache, "k", header + payload + tag)
    with caplog.at_level(logging.WARNING):
        assert cache.get("k") is None
    assert not path.exists()
    assert "cannot be unpickled (ModuleNotFoundError" in caplog.text


def test_insecure_secret_disables_cache(tmp_path, caplog):
    secret = tmp_path / "key"
    secret.write_bytes(os.urandom(32))
    os.chmod(secret, 0o644)
    with caplog.at_level(logging.ERROR):
        cache = PickleCache(tmp_path / "cache", secret, max_size_bytes=10**6)
    assert cache.disabled_reason is not None
    assert "mode 0644" in caplog.text
    cache.set("k", 1)
    assert cache.get("k") is None
    assert cache.clear() == 0
    assert "disabled" in cache.stats().location


def test_secret_of_wrong_size_disables_cache(tmp_path):
    secret = tmp_path / "key"
    secret.write_bytes(b"short")
    os.chmod(secret, 0o600)
    cache = PickleCache(tmp_path / "cache", secret, max_size_bytes=10**6)
    assert ": 5 bytes, expected 32" in cache.disabled_reason


def test_secret_created_once_under_concurrency(tmp_path):
    path = tmp_path / "data" / "key"
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(load_or_create_secret(path)))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(results)) == 1
    assert len(results[0]) == 32
    assert sorted(os.listdir(path.parent)) == ["key"]


def test_write_failure_degrades_to_miss(cache, caplog):
    cache.set("k", 1)
    for child in cache.directory.iterdir():
        child.unlink()
    cache.directory.rmdir()
    cache.directory.write_text("not a directory any more")
    with caplog.at_level(logging.WARNING):
        cache.set("k", 2)
        assert cache.get("k") is None
    assert "cannot write cache entry" in caplog.text


def test_repeated_failures_are_rate_limited(cache, caplog):
    with caplog.at_level(logging.DEBUG, logger="clstock_pickle.backend"):
        for index in range(12):
            cache.set(f"lock{index}", threading.Lock())
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 5
    assert "further cache write failures are logged at debug level" in warnings[-1].getMessage()


def test_entry_layout_matches_documented_header(cache):
    cache.set("k", "v", ttl=100)
    data = _entry(cache, "k").read_bytes()
    magic, version, reserved, created, expires, size, digest = HEADER.unpack_from(data)
    assert (magic, version, reserved) == (b"CLSC", 1, 0)
    assert 99 <= expires - created <= 101
    assert size == len(data) - OVERHEAD
    assert digest == key_digest("k")
    assert pickle.loads(data[HEADER.size : -TAG_SIZE]) == "v"
    assert (
        hmac.digest(cache.secret_path.read_bytes(), data[:-TAG_SIZE], "sha256") == data[-TAG_SIZE:]
    )


def test_default_locations_follow_platformdirs(tmp_path, offline_config, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    config = tmp_path / "pickle.toml"
    config.write_text(
        offline_config.read_text().replace('use = "none"', 'use = "pickle"'), encoding="utf-8"
    )
    with Application(config, environ={}) as app:
        cache = app.component("cache")
    assert cache.directory == tmp_path / "xdg-cache" / "clstock" / "pickle"
    assert cache.secret_path == tmp_path / "xdg-data" / "clstock" / "cache-hmac.key"


def test_engine_uses_cache_across_runs(tmp_path, offline_config):
    config = tmp_path / "pickle.toml"
    text = offline_config.read_text().replace(
        'use = "none"', f'use = "pickle"\n[cache.pickle]\ndirectory = "{tmp_path / "c"}"'
    )
    config.write_text(text, encoding="utf-8")
    with Application(config, environ={}) as app:
        first = app.engine.rank()
        cache = app.component("cache")
        assert cache.misses == 6
        assert cache.hits == 0
    with Application(config, environ={}) as app:
        second = app.engine.rank()
        cache = app.component("cache")
        assert cache.hits == 6
        assert cache.misses == 0
    assert [r.symbol for r in first.recommendations] == [r.symbol for r in second.recommendations]
