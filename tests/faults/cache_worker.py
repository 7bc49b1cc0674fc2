"""A process that writes and/or reads pickle cache entries in a loop, for fault tests.

Usage: python -m tests.faults.cache_worker MODE DIRECTORY SECRET_FILE SECONDS KEY...

MODE is ``write``, ``read`` or ``mixed``. Every value carries a SHA-256 of
its content, so a reader can tell a complete value from a damaged one. At
the end the worker prints one JSON line of counters. It exits 1 when it saw
a damaged value, a rejected entry or a key that vanished after being read.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import sys
import time
from pathlib import Path

from clstock_pickle.backend import MIB, PickleCache

MIN_SIZE = 256 * 1024
MAX_SIZE = 3 * MIB


class _RejectionCounter(logging.Handler):
    """Counts the cache's warnings about entries that failed verification."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if "is invalid" in message or "cannot be unpickled" in message:
            self.count += 1
            self.messages.append(message)


def make_value(key: str, generation: int) -> dict:
    blob = random.randbytes(random.randint(MIN_SIZE, MAX_SIZE))
    return {
        "key": key,
        "generation": generation,
        "blob": blob,
        "digest": _digest(key, generation, blob),
    }


def is_complete(key: str, value: object) -> bool:
    if not isinstance(value, dict) or value.get("key") != key:
        return False
    return value.get("digest") == _digest(key, value.get("generation"), value.get("blob", b""))


def _digest(key: str, generation: object, blob: bytes) -> str:
    return hashlib.sha256(f"{key}|{generation}|".encode() + blob).hexdigest()


def run(mode: str, cache: PickleCache, seconds: float, keys: list[str]) -> dict:
    counters = {
        "pid": os.getpid(),
        "writes": 0,
        "reads": 0,
        "hits": 0,
        "misses": 0,
        "damaged": 0,
        "vanished": 0,
    }
    seen: set[str] = set()
    deadline = time.monotonic() + seconds
    generation = 0
    while time.monotonic() < deadline:
        key = random.choice(keys)
        if mode == "write" or (mode == "mixed" and random.random() < 0.5):
            generation += 1
            cache.set(key, make_value(key, generation))
            counters["writes"] += 1
            continue

        counters["reads"] += 1
        value = cache.get(key)
        if value is None:
            counters["misses"] += 1
            counters["vanished"] += key in seen
            continue
        counters["hits"] += 1
        seen.add(key)
        counters["damaged"] += not is_complete(key, value)
    return counters


def main(argv: list[str]) -> int:
    mode, directory, secret, seconds, *keys = argv
    rejections = _RejectionCounter()
    logging.getLogger("clstock_pickle").addHandler(rejections)
    cache = PickleCache(
        Path(directory), Path(secret), max_size_bytes=1024 * MIB, default_ttl=0, lock_timeout=10
    )
    print("started", flush=True)

    counters = run(mode, cache, float(seconds), keys)
    counters["rejected"] = rejections.count
    counters["rejections"] = rejections.messages[:3]
    print(json.dumps(counters), flush=True)
    return 1 if counters["damaged"] or counters["vanished"] or counters["rejected"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
