"""Time ranking the TSE universe with its data in memory, and the whole CLI run.

Measures, on the data named by ``CLSTOCK_DATA_DIR``:

- ``universe``: the 2,452-stock ``universe-daily.parquet``, read with pandas
  and normalized as one long frame (``PricePanel.from_long``);
- ``csv``: the 250-stock ``prices/`` directory, loaded through the ``csv``
  data source as ``clstock recommend`` loads it;
- ``cli``: the whole process ``clstock --config examples/tse-offline.toml
  recommend`` over the 250 CSV stocks with a warm cache.

For the first two it reports load time and ranking time separately. Ranking
is ``Engine.rank(universe=...)`` on a fresh ``PricePanel`` of the loaded
frame: technical scoring, price levels and the top recommendations. Beside
it runs a baseline that computes the same technical score one symbol at a
time with pandas, and checks that both give the same scores. Each scenario
runs in its own process so that its peak RSS is its own.

    CLSTOCK_DATA_DIR=/path/to/tse .venv/bin/python benchmarks/rank_bench.py
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DATA_DIR_ENV = "CLSTOCK_DATA_DIR"
CLI_CONFIG = REPO / "examples" / "tse-offline.toml"

# Goals on a 2-core machine, in seconds.
GOALS = {"universe": 0.5, "csv": 0.05, "cli": 2.0}


def _timed(function: Callable[[], Any], repeat: int) -> tuple[list[float], Any]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return times, result


def _summary(times: list[float]) -> dict[str, float]:
    return {
        "median": statistics.median(times),
        "min": min(times),
        "max": max(times),
        "runs": len(times),
    }


def _peak_rss_mb(usage: resource.struct_rusage) -> float:
    # ru_maxrss is in kilobytes on Linux and in bytes on macOS.
    scale = 1 / 1024 / 1024 if sys.platform == "darwin" else 1 / 1024
    return usage.ru_maxrss * scale


# -- loading ------------------------------------------------------------------------


def _load_universe(data_dir: Path) -> tuple[Any, dict[str, Any]]:
    """Read the parquet file and normalize it as one long frame."""
    import pandas as pd

    from clstock_core.prices import PricePanel
    from clstock_core.universe import read_universe_file, stock_list

    frame = pd.read_parquet(data_dir / "universe-daily.parquet")
    panel = PricePanel.from_long(frame)
    names = read_universe_file(data_dir / "symbols.csv", "benchmark")
    stocks = {info.symbol: info for info in stock_list(panel.symbols, names)}
    return panel.frame, stocks


def _csv_config(data_dir: Path, directory: Path) -> Path:
    path = directory / "csv-bench.toml"
    path.write_text(
        f"""
[data_source]
use = "csv"
[data_source.csv]
directory = "{(data_dir / "prices").as_posix()}"
universe_file = "{(data_dir / "symbols.csv").as_posix()}"
[cache]
use = "none"
[engine]
history_days = 20000
""",
        encoding="utf-8",
    )
    return path


def _load_csv(data_dir: Path) -> tuple[Any, dict[str, Any]]:
    """Load the CSV directory through the csv data source, without a cache."""
    from clstock_core.app import Application

    with tempfile.TemporaryDirectory() as directory:
        config = _csv_config(data_dir, Path(directory))
        with Application(config, environ={DATA_DIR_ENV: str(data_dir)}) as app:
            loaded = app.engine.load()
    return loaded.panel.frame, loaded.stocks


LOADERS = {"universe": _load_universe, "csv": _load_csv}


# -- ranking ------------------------------------------------------------------------


def _engine() -> Any:
    from clstock_technical.predictor import TechnicalPredictor, TechnicalSettings

    from clstock_core.config import EngineSettings
    from clstock_core.engine import Engine

    predictor = TechnicalPredictor(TechnicalSettings())
    return Engine(
        source=None,
        source_name="benchmark",
        cache=None,
        predictors=[predictor],
        settings=EngineSettings(),
    )


def _rank(engine: Any, frame: Any, stocks: dict[str, Any]) -> Any:
    """Rank a fresh panel, so no lazily computed panel index is reused between runs."""
    from clstock_core.engine import LoadedUniverse
    from clstock_core.prices import PricePanel

    return engine.rank(universe=LoadedUniverse(panel=PricePanel(frame), stocks=stocks))


def _vectorized_scores(frame: Any) -> Any:
    from clstock_core.prices import PricePanel

    return _engine().predictors[0].predict(PricePanel(frame)).scores["score"]


def _per_symbol_scores(frame: Any) -> Any:
    """The technical score computed one symbol at a time with pandas (the baseline).

    It calls the same signal and combination functions as the predictor, on
    single-column frames, so the formulas are the same and pandas computes
    every indicator per symbol.
    """
    import numpy as np
    import pandas as pd
    from clstock_technical.predictor import (
        WINDOW,
        TechnicalSettings,
        combine_signals,
        signal_matrix,
    )

    settings = TechnicalSettings()
    weights = np.array(
        [settings.trend_weight, settings.rsi_weight, settings.macd_weight, settings.volume_weight]
    )
    weights = weights / weights.sum()

    scores = {}
    for symbol, history in frame.groupby("symbol", sort=True):
        if len(history) < settings.min_history:
            continue
        tail = history.iloc[-WINDOW:]
        close = pd.DataFrame(tail["close"].to_numpy(dtype="float64"))
        volume = pd.DataFrame(tail["volume"].to_numpy(dtype="float64"))
        signals = {name: values[-1] for name, values in signal_matrix(close, volume).items()}
        score, _ = combine_signals(signals, weights)
        scores[str(symbol)] = float(score[0])
    return pd.Series(scores)


def _ranking_memory(engine: Any, frame: Any, stocks: dict[str, Any]) -> float:
    """Peak Python-tracked allocation (numpy included) of one ranking, in MB."""
    tracemalloc.start()
    try:
        _rank(engine, frame, stocks)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 1024 / 1024


def run_scenario(
    name: str, data_dir: Path, repeat: int, load_repeat: int, baseline_repeat: int
) -> dict:
    """Measure one data set; runs inside its own process."""
    load_times, (frame, stocks) = _timed(lambda: LOADERS[name](data_dir), load_repeat)
    rss_after_load = _peak_rss_mb(resource.getrusage(resource.RUSAGE_SELF))

    engine = _engine()
    _rank(engine, frame, stocks)  # warm-up: imports and first-call costs
    rank_times, report = _timed(lambda: _rank(engine, frame, stocks), repeat)
    scoring_times, vectorized = _timed(lambda: _vectorized_scores(frame), repeat)
    baseline_times, baseline = _timed(lambda: _per_symbol_scores(frame), baseline_repeat)
    difference = (vectorized - baseline.reindex(vectorized.index)).abs().max()

    return {
        "scenario": name,
        "symbols": int(frame["symbol"].nunique()),
        "rows": len(frame),
        "load": _summary(load_times),
        "rank": _summary(rank_times),
        "vectorized_scoring": _summary(scoring_times),
        "per_symbol_scoring": _summary(baseline_times),
        "max_score_difference": float(difference),
        "baseline_symbols": len(baseline),
        "top": [rec.symbol for rec in report.recommendations],
        "peak_rss_after_load_mb": rss_after_load,
        "ranking_tracemalloc_peak_mb": _ranking_memory(engine, frame, stocks),
    }


def _in_child(name: str, args: argparse.Namespace) -> dict:
    command = [
        sys.executable,
        __file__,
        "--scenario",
        name,
        "--repeat",
        str(args.repeat),
        "--load-repeat",
        str(args.load_repeat),
        "--baseline-repeat",
        str(args.baseline_repeat),
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    output = process.stdout.read() if process.stdout else ""
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"scenario {name!r} failed with exit code {process.returncode}")
    result = json.loads(output)
    result["peak_rss_mb"] = _peak_rss_mb(usage)
    return result


# -- whole CLI process --------------------------------------------------------------


def _cache_choice() -> str:
    from clstock_core.discovery import discover

    return "pickle" if "pickle" in discover().registry.names("cache") else "none"


def _run_cli(environ: dict[str, str]) -> tuple[float, float]:
    """Run ``clstock recommend`` once; return its wall time and peak RSS in MB."""
    command = [
        str(Path(sys.executable).with_name("clstock")),
        "--config",
        str(CLI_CONFIG),
        "recommend",
    ]
    start = time.perf_counter()
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=environ, cwd=REPO, text=True
    )
    errors = process.stderr.read() if process.stderr else ""
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"clstock recommend failed:\n{errors}")
    return elapsed, _peak_rss_mb(usage)


def run_cli(data_dir: Path, repeat: int) -> dict:
    """Time the CLI with a warm cache in a private cache directory."""
    cache = _cache_choice()
    with tempfile.TemporaryDirectory() as home:
        environ = {
            name: value for name, value in os.environ.items() if not name.startswith("CLSTOCK_")
        }
        environ.update(
            {
                DATA_DIR_ENV: str(data_dir),
                "CLSTOCK_CACHE__USE": cache,
                "XDG_CACHE_HOME": f"{home}/cache",
                "XDG_DATA_HOME": f"{home}/data",
                "XDG_STATE_HOME": f"{home}/state",
            }
        )
        cold, _ = _run_cli(environ)  # fills the cache
        runs = [_run_cli(environ) for _ in range(repeat)]

    return {
        "scenario": "cli",
        "cache": cache,
        "cold": cold,
        "warm": _summary([elapsed for elapsed, _ in runs]),
        "peak_rss_mb": max(rss for _, rss in runs),
    }


# -- report -------------------------------------------------------------------------


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f} ms" if seconds < 10 else f"{seconds:,.1f} s"


def render(results: dict) -> str:
    """The results as a Markdown table with ratios and goals."""
    lines = [
        "| data | symbols | load (median) | ranking (median) | goal | vectorized scoring "
        "| per-symbol scoring | speed-up | peak RSS | ranking tracemalloc peak |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name in ("universe", "csv"):
        if name not in results:
            continue
        result = results[name]
        speedup = result["per_symbol_scoring"]["median"] / result["vectorized_scoring"]["median"]
        met = "met" if result["rank"]["median"] < GOALS[name] else "NOT met"
        lines.append(
            f"| {name} | {result['symbols']:,} | {_ms(result['load']['median'])} "
            f"| {_ms(result['rank']['median'])} | < {_ms(GOALS[name])} ({met}) "
            f"| {_ms(result['vectorized_scoring']['median'])} "
            f"| {_ms(result['per_symbol_scoring']['median'])} | {speedup:,.0f}x "
            f"| {result['peak_rss_mb']:,.0f} MB | {result['ranking_tracemalloc_peak_mb']:,.0f} MB |"
        )
    if "cli" in results:
        cli = results["cli"]
        met = "met" if cli["warm"]["median"] < GOALS["cli"] else "NOT met"
        lines += [
            "",
            f"`clstock recommend` over 250 CSV stocks, cache `{cli['cache']}`: warm "
            f"{_ms(cli['warm']['median'])} median of {cli['warm']['runs']} "
            f"(min {_ms(cli['warm']['min'])}, max {_ms(cli['warm']['max'])}), cold "
            f"{_ms(cli['cold'])}; goal < {_ms(GOALS['cli'])} ({met}); peak RSS "
            f"{cli['peak_rss_mb']:,.0f} MB.",
        ]
    for name in ("universe", "csv"):
        if name in results:
            result = results[name]
            lines.append(
                f"\n{name}: ranking min {_ms(result['rank']['min'])} / max "
                f"{_ms(result['rank']['max'])} over {result['rank']['runs']} runs; largest "
                f"difference between vectorized and per-symbol scores "
                f"{result['max_score_difference']:.2e} over {result['baseline_symbols']} symbols."
            )
    return "\n".join(lines)


def _machine() -> str:
    import numpy
    import pandas

    return (
        f"{os.cpu_count()} CPUs, {platform.machine()}, Python {platform.python_version()}, "
        f"numpy {numpy.__version__}, pandas {pandas.__version__}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--repeat", type=int, default=7, help="timed ranking runs per data set (default 7)"
    )
    parser.add_argument(
        "--load-repeat", type=int, default=3, help="timed loads per data set (default 3)"
    )
    parser.add_argument(
        "--baseline-repeat", type=int, default=3, help="timed per-symbol baseline runs (default 3)"
    )
    parser.add_argument("--cli-repeat", type=int, default=5, help="timed warm CLI runs (default 5)")
    parser.add_argument(
        "--only",
        choices=["universe", "csv", "cli"],
        action="append",
        help="run only these (repeatable)",
    )
    parser.add_argument("--json", type=Path, help="also write the raw results to this file")
    parser.add_argument("--scenario", choices=sorted(LOADERS), help=argparse.SUPPRESS)
    args = parser.parse_args()

    data_dir = Path(os.environ.get(DATA_DIR_ENV, ""))
    if not os.environ.get(DATA_DIR_ENV) or not (data_dir / "prices").is_dir():
        parser.error(
            f"set {DATA_DIR_ENV} to the TSE data directory "
            f"(prices/, symbols.csv, universe-daily.parquet)"
        )

    if args.scenario:
        result = run_scenario(
            args.scenario, data_dir, args.repeat, args.load_repeat, args.baseline_repeat
        )
        print(json.dumps(result))
        return 0

    wanted = args.only or ["universe", "csv", "cli"]
    results: dict[str, dict] = {}
    for name in ("universe", "csv"):
        if name in wanted:
            results[name] = _in_child(name, args)
    if "cli" in wanted:
        results["cli"] = run_cli(data_dir, args.cli_repeat)

    print(f"Machine: {_machine()}\n")
    print(render(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
