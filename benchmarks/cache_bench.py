"""Time get and set of one stock's full history through three file caches.

Side by side in one process, on the same value:

- ``pickle (signed)``: the ``pickle`` cache backend (HMAC-SHA256 check on
  every get; temp file, fsync and ``os.replace`` under a per-key lock on
  every set);
- ``atomic pickle (unsigned)``: the same pickle (protocol 5) written to a temp
  file, fsynced and renamed into place, read back with ``open``, ``read`` and
  ``pickle.loads``, without header, signature or lock;
- ``diskcache``: ``diskcache.Cache`` get and set (SQLite index, large values
  in files), the ``bench`` extra.

The value is the normalized history of 7203.T from
``$CLSTOCK_DATA_DIR/prices`` when that variable is set, else a synthetic
frame of the same shape (2,800 daily rows). Operations of the three caches
are interleaved so that background load affects them alike; the medians and
their ratios are printed as a Markdown table.

    CLSTOCK_DATA_DIR=/path/to/tse .venv/bin/python benchmarks/cache_bench.py
"""

from __future__ import annotations

import argparse
import datetime as dt
import hmac
import os
import pickle
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import diskcache
import numpy as np
import pandas as pd
from clstock_csv.source import CsvSource
from clstock_pickle.backend import MIB, PickleCache

from clstock_core.prices import normalize_history

DATA_DIR_ENV = "CLSTOCK_DATA_DIR"
TICKER = "7203.T"
KEY = f"history:v1:csv:{TICKER}:1970-01-01:latest:1d:unadjusted"
GET_GOAL_RATIO = 1.5


class AtomicPickleFile:
    """The unsigned baseline: one pickle file per key, replaced atomically."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def set(self, key: str, value: Any) -> None:
        path = self.directory / f"{abs(hash(key))}.pkl"
        descriptor, temp_name = tempfile.mkstemp(dir=self.directory)
        with os.fdopen(descriptor, "wb") as handle:
            pickle.dump(value, handle, protocol=5)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, path)

    def get(self, key: str) -> Any:
        with open(self.directory / f"{abs(hash(key))}.pkl", "rb") as handle:
            return pickle.loads(handle.read())


def load_value() -> tuple[pd.DataFrame, str]:
    data_dir = os.environ.get(DATA_DIR_ENV)
    if data_dir:
        source = CsvSource(Path(data_dir) / "prices")
        raw = source.fetch([TICKER]).histories[TICKER]
        return normalize_history(raw, TICKER), f"{TICKER} from ${DATA_DIR_ENV}/prices"
    return synthetic_history(2800), "synthetic 2,800-row history"


def synthetic_history(days: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    close = 1000 * np.exp(np.cumsum(rng.normal(0, 0.015, days)))
    index = pd.bdate_range("2013-01-04", periods=days, name="date")
    return pd.DataFrame(
        {
            "open": close * (1 + rng.normal(0, 0.004, days)),
            "high": close * 1.01,
            "low": close * 0.99,
            "close": close,
            "volume": rng.integers(100_000, 2_000_000, days),
            "adj_close": close * 0.97,
        },
        index=index,
    )


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def interleaved(operations: dict[str, Callable[[], Any]], rounds: int) -> dict[str, list[float]]:
    """Run each operation once per round, in turn; return the times in seconds."""
    times: dict[str, list[float]] = {name: [] for name in operations}
    for _ in range(rounds):
        for name, operation in operations.items():
            start = time.perf_counter()
            operation()
            times[name].append(time.perf_counter() - start)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gets", type=int, default=2000, help="get operations per cache")
    parser.add_argument("--sets", type=int, default=200, help="set operations per cache")
    args = parser.parse_args()

    value, origin = load_value()
    payload = len(pickle.dumps(value, protocol=5))
    with tempfile.TemporaryDirectory(prefix="clstock-cache-bench-") as temp:
        root = Path(temp)
        for name in ("signed", "unsigned", "diskcache"):
            (root / name).mkdir()
        signed = PickleCache(root / "signed", root / "key", max_size_bytes=1024 * MIB)
        unsigned = AtomicPickleFile(root / "unsigned")
        disk = diskcache.Cache(str(root / "diskcache"))
        caches = {
            "pickle (signed)": signed,
            "atomic pickle (unsigned)": unsigned,
            "diskcache": disk,
        }
        try:
            sets = interleaved(
                {name: (lambda c=cache: c.set(KEY, value)) for name, cache in caches.items()},
                args.sets,
            )
            for cache in caches.values():
                pd.testing.assert_frame_equal(cache.get(KEY), value)
            gets = interleaved(
                {name: (lambda c=cache: c.get(KEY)) for name, cache in caches.items()}, args.gets
            )
            entry = next((root / "signed").glob("*.entry")).read_bytes()
            secret = (root / "key").read_bytes()
            signing = interleaved({"hmac": lambda: hmac.digest(secret, entry, "sha256")}, args.gets)
        finally:
            disk.close()

    print_report(origin, value, payload, gets, sets, statistics.median(signing["hmac"]) * 1e6, args)
    return 0


def print_report(origin, value, payload, gets, sets, hmac_median, args) -> None:
    get_median = {name: statistics.median(times) * 1e6 for name, times in gets.items()}
    set_median = {name: statistics.median(times) * 1e6 for name, times in sets.items()}
    baseline = "atomic pickle (unsigned)"

    print(f"value: {origin}, {len(value)} rows, pickle protocol 5: {payload / 1024:.0f} KiB")
    print(
        f"machine: {os.cpu_count()} cores, {cpu_model()}, "
        f"Python {platform.python_version()}, pandas {pd.__version__}, "
        f"diskcache {diskcache.__version__}; {dt.date.today().isoformat()}"
    )
    print(f"runs: {args.gets} gets and {args.sets} sets per cache, interleaved\n")
    print("| cache | get median (µs) | get vs unsigned | set median (µs) | set vs unsigned |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name in gets:
        print(
            f"| {name} | {get_median[name]:.0f} | {get_median[name] / get_median[baseline]:.2f}x "
            f"| {set_median[name]:.0f} | {set_median[name] / set_median[baseline]:.2f}x |"
        )

    print(f"\nHMAC-SHA256 of one {len(value)}-row entry alone: {hmac_median:.0f} µs")
    signed = get_median["pickle (signed)"]
    ratio = signed / get_median[baseline]
    print(
        f"signed get / unsigned get = {ratio:.2f} (goal <= {GET_GOAL_RATIO}): "
        f"{'met' if ratio <= GET_GOAL_RATIO else 'NOT met'}"
    )
    versus_disk = signed / get_median["diskcache"]
    print(
        f"signed get / diskcache get = {versus_disk:.2f} (goal < 1): "
        f"{'met' if versus_disk < 1 else 'NOT met'}"
    )


if __name__ == "__main__":
    sys.exit(main())
