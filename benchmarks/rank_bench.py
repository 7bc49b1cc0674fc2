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
# Plugins whose registration hooks import scikit-learn, skops or Starlette;
# the second CLI measurement runs without them to show that import cost.
LEAN_DISABLED = "ml,http"


def _timed(function: Callable[[], Any], repeat: int) -> tuple[dict[str, float], Any]:
    """Run ``function`` ``repeat`` times; summarize wall and CPU time of the runs."""
    wall, cpu, result = [], [], None
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = function()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return _summary(wall, cpu), result


def _summary(wall: list[float], cpu: list[float]) -> dict[str, float]:
    # CPU time is reported beside wall time because other processes on a
    # shared machine stretch the wall time but hardly the CPU time.
    return {
        "median": statistics.median(wall),
        "min": min(wall),
        "max": max(wall),
        "cpu_median": statistics.median(cpu),
        "runs": len(wall),
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
    """Compute the technical score one symbol at a time with pandas (the baseline).

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
    load, (frame, stocks) = _timed(lambda: LOADERS[name](data_dir), load_repeat)
    rss_after_load = _peak_rss_mb(resource.getrusage(resource.RUSAGE_SELF))

    engine = _engine()
    _rank(engine, frame, stocks)  # warm-up: imports and first-call costs
    rank, report = _timed(lambda: _rank(engine, frame, stocks), repeat)
    scoring, vectorized = _timed(lambda: _vectorized_scores(frame), repeat)
    per_symbol, baseline = _timed(lambda: _per_symbol_scores(frame), baseline_repeat)
    difference = (vectorized - baseline.reindex(vectorized.index)).abs().max()

    return {
        "scenario": name,
        "symbols": int(frame["symbol"].nunique()),
        "rows": len(frame),
        "load": load,
        "rank": rank,
        "vectorized_scoring": scoring,
        "per_symbol_scoring": per_symbol,
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


def _run_cli(environ: dict[str, str]) -> tuple[float, float, float]:
    """Run ``clstock recommend`` once; return its wall time, CPU time and peak RSS in MB."""
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
    return elapsed, usage.ru_utime + usage.ru_stime, _peak_rss_mb(usage)


def run_cli(data_dir: Path, repeat: int, disabled: str = "") -> dict:
    """Time the CLI with a warm cache in a private cache directory.

    ``disabled`` is passed as CLSTOCK_DISABLE_PLUGINS, to show what plugins
    that import heavy libraries at startup cost every command.
    """
    cache = _cache_choice()
    with tempfile.TemporaryDirectory() as home:
        environ = {
            name: value for name, value in os.environ.items() if not name.startswith("CLSTOCK_")
        }
        environ.update(
            {
                DATA_DIR_ENV: str(data_dir),
                "CLSTOCK_CACHE__USE": cache,
                "CLSTOCK_DISABLE_PLUGINS": disabled,
                "XDG_CACHE_HOME": f"{home}/cache",
                "XDG_DATA_HOME": f"{home}/data",
                "XDG_STATE_HOME": f"{home}/state",
            }
        )
        cold = _run_cli(environ)[0]  # fills the cache
        runs = [_run_cli(environ) for _ in range(repeat)]

    return {
        "scenario": "cli",
        "cache": cache,
        "disabled": disabled,
        "cold": cold,
        "warm": _summary([run[0] for run in runs], [run[1] for run in runs]),
        "peak_rss_mb": max(run[2] for run in runs),
    }


# -- report -------------------------------------------------------------------------


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f} ms" if seconds < 10 else f"{seconds:,.1f} s"


def _goal(seconds: float, goal: float) -> str:
    return f"< {_ms(goal)} ({'met' if seconds < goal else 'NOT met'})"


def render(results: dict) -> str:
    """Format the results as Markdown tables with ratios and goals."""
    lines = [
        "| data | symbols | load | ranking (wall) | ranking (CPU) | goal (wall) "
        "| vectorized scoring | per-symbol scoring | speed-up | peak RSS "
        "| ranking peak (tracemalloc) |",
        "|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    for name in ("universe", "csv"):
        if name not in results:
            continue
        result = results[name]
        rank, scoring = result["rank"], result["vectorized_scoring"]
        speedup = result["per_symbol_scoring"]["median"] / scoring["median"]
        lines.append(
            f"| {name} | {result['symbols']:,} | {_ms(result['load']['median'])} "
            f"| {_ms(rank['median'])} | {_ms(rank['cpu_median'])} "
            f"| {_goal(rank['median'], GOALS[name])} | {_ms(scoring['median'])} "
            f"| {_ms(result['per_symbol_scoring']['median'])} | {speedup:,.0f}x "
            f"| {result['peak_rss_mb']:,.0f} MB | {result['ranking_tracemalloc_peak_mb']:,.0f} MB |"
        )

    cli_runs = [results[key] for key in ("cli", "cli_lean") if key in results]
    if cli_runs:
        lines += [
            "",
            "| `clstock recommend`, 250 CSV stocks | cache | warm (wall) | warm (CPU) "
            "| goal (wall) | cold (wall) | peak RSS |",
            "|---|---|---:|---:|---|---:|---:|",
        ]
    for cli in cli_runs:
        plugins = f"CLSTOCK_DISABLE_PLUGINS={cli['disabled']}" if cli["disabled"] else "all plugins"
        warm = cli["warm"]
        lines.append(
            f"| {plugins} | {cli['cache']} | {_ms(warm['median'])} | {_ms(warm['cpu_median'])} "
            f"| {_goal(warm['median'], GOALS['cli'])} | {_ms(cli['cold'])} "
            f"| {cli['peak_rss_mb']:,.0f} MB |"
        )

    lines.append("")
    for name in ("universe", "csv"):
        if name in results:
            result = results[name]
            lines.append(
                f"- {name}: ranking wall min {_ms(result['rank']['min'])}, max "
                f"{_ms(result['rank']['max'])} over {result['rank']['runs']} runs; vectorized "
                f"and per-symbol scores differ by at most "
                f"{result['max_score_difference']:.1e} over {result['baseline_symbols']} symbols."
            )
    return "\n".join(lines)


def _machine() -> str:
    import numpy
    import pandas

    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    return (
        f"{os.cpu_count()} CPUs, {platform.machine()}, Python {platform.python_version()}, "
        f"numpy {numpy.__version__}, pandas {pandas.__version__}; load average at the end: {load}"
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
        results["cli_lean"] = run_cli(data_dir, args.cli_repeat, disabled=LEAN_DISABLED)

    print(f"Machine: {_machine()}\n")
    print(render(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
