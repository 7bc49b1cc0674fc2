"""Time loading the whole TSE universe through the data sources.

Measures, on the data named by ``CLSTOCK_DATA_DIR``, side by side in one
process:

- ``parquet load_panel``: ``ParquetSource.load_panel()``, one vectorized
  read and normalization of ``universe-daily.parquet``;
- ``parquet engine``: ``Engine.load()`` over the same source and file, the
  per-symbol path that ``clstock recommend`` takes (batches of 50 symbols,
  ``fetch`` then ``normalize_history`` for each symbol, no cache);
- ``csv engine``: ``Engine.load()`` over the 250 files of ``prices/``.

It checks that both parquet paths produce the same panel. Runs are bounded
by ``--repeat`` and ``--engine-repeat``.

    CLSTOCK_DATA_DIR=/path/to/tse .venv/bin/python benchmarks/source_bench.py
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
from clstock_csv.source import CsvSource
from clstock_parquet.source import ParquetSource

from clstock_core.config import EngineSettings
from clstock_core.engine import Engine

DATA_DIR_ENV = "CLSTOCK_DATA_DIR"
ALL_HISTORY = dt.date(1970, 1, 1)


def timed(function: Callable[[], Any], repeat: int) -> tuple[list[float], Any]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return times, result


def engine_over(source: Any, name: str) -> Engine:
    settings = EngineSettings(history_days=20000, batch_size=50)
    return Engine(source=source, source_name=name, cache=None, predictors=[], settings=settings)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs of the fast scenarios")
    parser.add_argument(
        "--engine-repeat", type=int, default=2, help="runs of the parquet engine path"
    )
    args = parser.parse_args()

    data_dir = Path(os.environ.get(DATA_DIR_ENV, ""))
    if not (data_dir / "universe-daily.parquet").is_file():
        print(f"set {DATA_DIR_ENV} to the TSE data directory", file=sys.stderr)
        return 2

    parquet = ParquetSource(data_dir / "universe-daily.parquet")
    csv = CsvSource(data_dir / "prices", data_dir / "symbols.csv")

    results = {}
    results["parquet load_panel"], panel = timed(parquet.load_panel, args.repeat)
    results["parquet engine"], loaded = timed(
        lambda: engine_over(parquet, "parquet").load(start=ALL_HISTORY), args.engine_repeat
    )
    results["csv engine"], csv_loaded = timed(
        lambda: engine_over(csv, "csv").load(start=ALL_HISTORY), args.repeat
    )

    columns = list(loaded.panel.frame.columns)
    pd.testing.assert_frame_equal(
        panel.frame[columns].reset_index(drop=True),
        loaded.panel.frame.reset_index(drop=True),
        check_dtype=False,
    )

    print(
        f"machine: {platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    print(f"parquet: {len(panel)} symbols, {len(panel.frame)} bars")
    print(f"csv: {len(csv_loaded.panel)} symbols, {len(csv_loaded.panel.frame)} bars")
    print(f"{'scenario':<20} {'median s':>9} {'min s':>7} {'max s':>7} runs")
    for name, times in results.items():
        print(
            f"{name:<20} {statistics.median(times):>9.2f} {min(times):>7.2f} "
            f"{max(times):>7.2f} {len(times):>4}"
        )
    ratio = statistics.median(results["parquet engine"]) / statistics.median(
        results["parquet load_panel"]
    )
    print(f"load_panel is {ratio:.1f}x faster than the per-symbol engine path (same panel)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
