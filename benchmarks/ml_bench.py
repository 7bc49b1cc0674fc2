"""Time the ml predictor's training and a full walk-forward evaluation, with peak memory.

Measures, on the data named by ``CLSTOCK_DATA_DIR``:

- ``train``: the command ``CLSTOCK_DATA_SOURCE__USE=parquet clstock --config
  examples/tse-ml.toml train``, which reads the 2,452-stock
  ``universe-daily.parquet`` through the parquet source and trains with the
  default ``[predictors.ml]`` settings (1,500,000-row subsample, 15 %
  time-ordered holdout, then a refit on all sampled rows). It then times
  scoring the whole universe with the saved model, in this process.
- ``evaluate``: the command ``clstock --config examples/tse-ml.toml evaluate
  --start 2016-01-01 --end 2024-06-28`` over the 250-stock ``prices/``
  directory (csv source): monthly rebalance, yearly retraining, predictors
  ml and technical plus the baselines.
- ``features``: the vectorized feature computation over the 250 stocks,
  side by side with computing it one symbol at a time (3 runs each).

Each scenario runs in its own process, and each command in a child of it,
so a peak RSS (``ru_maxrss``) is that of the command alone. The heavy
scenarios run once: they take minutes on 2 cores.

    CLSTOCK_DATA_DIR=/path/to/tse .venv/bin/python benchmarks/ml_bench.py [train|evaluate|features]
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
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DATA_DIR_ENV = "CLSTOCK_DATA_DIR"
CONFIG = REPO / "examples" / "tse-ml.toml"
SCENARIOS = ("train", "evaluate", "features")

#: Goals on a 2-core machine: seconds and peak resident memory in MB.
GOALS = {"train": {"seconds": 180, "peak_mb": 4096}, "evaluate": {"seconds": 300}}


def _peak_rss_mb() -> float:
    # Linux reports ru_maxrss in kilobytes.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _data_dir() -> Path:
    value = os.environ.get(DATA_DIR_ENV, "")
    if not value:
        sys.exit(f"set {DATA_DIR_ENV} to the TSE data directory (universe-daily.parquet, prices/)")
    return Path(value)


def _run_cli(arguments: list[str], environ: dict[str, str]) -> dict[str, Any]:
    """Run ``clstock`` with ``arguments`` and return its wall time, peak RSS and output."""
    command = [str(Path(sys.executable).parent / "clstock"), "--config", str(CONFIG), *arguments]
    started = time.perf_counter()
    completed = subprocess.run(
        command, capture_output=True, text=True, env={**os.environ, **environ}, check=False
    )
    seconds = time.perf_counter() - started
    if completed.returncode != 0:
        sys.exit(f"{' '.join(command)} failed ({completed.returncode}):\n{completed.stderr}")
    # The only child of this process so far, so its peak is the command's.
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {
        "seconds": seconds,
        "peak_rss_mb": peak,
        "stdout": completed.stdout,
        "stderr": completed.stderr,
    }


def run_train() -> dict[str, Any]:
    import pandas as pd
    from clstock_ml.model_file import load_model
    from clstock_ml.predictor import MlPredictor
    from clstock_ml.settings import MlSettings

    from clstock_core.prices import PricePanel

    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "model.skops"
        run = _run_cli(["train", "--output", str(path)], {"CLSTOCK_DATA_SOURCE__USE": "parquet"})
        model = load_model(path, hint="")
        model_bytes = path.stat().st_size

    panel = PricePanel.from_long(pd.read_parquet(_data_dir() / "universe-daily.parquet"))
    predictor = MlPredictor(MlSettings(), hint="", model=model)
    scoring = []
    for _ in range(3):
        mark = time.perf_counter()
        scored = len(predictor.predict(panel).scores)
        scoring.append(time.perf_counter() - mark)

    metadata = model.metadata
    return {
        "command": "CLSTOCK_DATA_SOURCE__USE=parquet clstock --config examples/tse-ml.toml train",
        "seconds": run["seconds"],
        "peak_rss_mb": run["peak_rss_mb"],
        "stages": run["stderr"].splitlines(),
        "summary": run["stdout"].splitlines(),
        "symbols": metadata.symbols,
        "training_rows": metadata.training_rows,
        "model_bytes": model_bytes,
        "score_universe_s": {"median": statistics.median(scoring), "runs": scoring},
        "scored_symbols": scored,
    }


def run_evaluate() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as directory:
        arguments = ["evaluate", "--start", "2016-01-01", "--end", "2024-06-28"]
        run = _run_cli([*arguments, "--report-dir", directory], {})
        payload = json.loads((Path(directory) / "evaluation.json").read_text(encoding="utf-8"))

    strategies = payload["strategies"]
    return {
        "command": "clstock --config examples/tse-ml.toml " + " ".join(arguments),
        "seconds": run["seconds"],
        "peak_rss_mb": run["peak_rss_mb"],
        "rebalances": len(payload["rebalance_dates"]),
        "retrains": len(payload["retrain_dates"]),
        "symbols": payload["symbols"],
        "strategy_s": {name: data["metrics"]["seconds"] for name, data in strategies.items()},
        "table": run["stdout"].splitlines(),
    }


def run_features() -> dict[str, Any]:
    import pandas as pd
    from clstock_ml.features import feature_table

    from clstock_core.prices import PricePanel

    symbols = sorted(path.name[: -len(".csv")] for path in (_data_dir() / "prices").glob("*.csv"))
    frame = pd.read_parquet(
        _data_dir() / "universe-daily.parquet", filters=[("symbol", "in", symbols)]
    )
    panel = PricePanel.from_long(frame)
    singles = [panel.subset([symbol]) for symbol in panel.symbols]

    vectorized, looped = [], []
    for _ in range(3):
        mark = time.perf_counter()
        feature_table(panel)
        vectorized.append(time.perf_counter() - mark)
        mark = time.perf_counter()
        for single in singles:
            feature_table(single)
        looped.append(time.perf_counter() - mark)

    return {
        "symbols": len(panel),
        "bars": len(panel.frame),
        "vectorized_s": {"median": statistics.median(vectorized), "runs": vectorized},
        "per_symbol_s": {"median": statistics.median(looped), "runs": looped},
        "speedup": statistics.median(looped) / statistics.median(vectorized),
        "peak_rss_mb": _peak_rss_mb(),
    }


RUNNERS = {"train": run_train, "evaluate": run_evaluate, "features": run_features}


def _in_child(scenario: str) -> dict[str, Any]:
    """Run one scenario in a fresh interpreter and return its JSON result."""
    completed = subprocess.run(
        [sys.executable, __file__, "--child", scenario], capture_output=True, text=True, check=False
    )
    if completed.returncode != 0:
        sys.exit(f"{scenario} failed:\n{completed.stderr}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("scenarios", nargs="*", help=f"any of {', '.join(SCENARIOS)}; default: all")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        print(json.dumps(RUNNERS[args.child](), default=str))
        return

    unknown = sorted(set(args.scenarios) - set(SCENARIOS))
    if unknown:
        parser.error(
            f"unknown scenario(s) {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}"
        )
    _data_dir()
    results = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "goals": GOALS,
    }
    for scenario in args.scenarios or SCENARIOS:
        print(f"running {scenario} ...", file=sys.stderr)
        # Other processes on a shared machine slow the OpenMP threads of the
        # model fit a lot, so the load average is recorded with each result.
        load_before = os.getloadavg()
        results[scenario] = _in_child(scenario)
        results[scenario]["load_average"] = {"before": load_before, "after": os.getloadavg()}
        print(json.dumps({scenario: results[scenario]}, indent=2, default=str), file=sys.stderr)
    print(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
