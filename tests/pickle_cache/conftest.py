"""A pickle cache in a temp directory, with its own key file."""

from __future__ import annotations

import pytest
from clstock_pickle.backend import MIB, PickleCache


@pytest.fixture
def make_cache(tmp_path):
    def make(**options):
        settings = {
            "max_size_bytes": 64 * MIB,
            "default_ttl": 3600.0,
            "lock_timeout": 2.0,
            **options,
        }
        return PickleCache(tmp_path / "cache", tmp_path / "keys" / "cache-hmac.key", **settings)

    return make


@pytest.fixture
def cache(make_cache):
    return make_cache()
