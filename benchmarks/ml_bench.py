"""Time the ml predictor's training and a full walk-forward evaluation, with peak memory.

Measures, on the data named by ``CLSTOCK_DATA_DIR``:

- ``train``: the 2,452-stock ``universe-daily.parquet`` read with pandas,
  normalized (``PricePanel.from_long``) and trained on with the default
  ``[predictors.ml]`` settings (1,500,000-row subsample, 15 % time-ordered
  holdout, then a refit on all sampled rows), then saved with skops. It
  also times scoring the whole universe with the trained model.
- ``evaluate``: ``clstock evaluate`` over the 250-stock ``prices/``
  directory loaded through the ``csv`` source of ``examples/tse-offline.toml``,
  2016-01-01 to 2024-06-28, monthly rebalance, yearly retraining, predictors
  ml and technical plus the baselines.
- ``features``: the vectorized feature computation over the 250 stocks,
  side by side with computing it one symbol at a time (3 runs each).

Each scenario runs in its own process, so its peak RSS (``ru_maxrss``) is
its own. The heavy scenarios run once: they take minutes on 2 cores.

    CLSTOCK_DATA_DIR=/path/to/tse .venv/bin/python benchmarks/ml_bench.py [train|evaluate|features]
"""

from __future__ import annotations

import argparse
import datetime as dt
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
CONFIG = REPO / "examples" / "tse-offline.toml"
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


def run_train() -> dict[str, Any]:
    import pandas as pd
    from clstock_ml.model_file import save_model
    from clstock_ml.predictor import MlPredictor
    from clstock_ml.settings import MlSettings
    from clstock_ml.training import train_model

    from clstock_core.prices import PricePanel

    stages: dict[str, float] = {}
    started = time.perf_counter()

    frame = pd.read_parquet(_data_dir() / "universe-daily.parquet")
    stages["read_parquet"] = time.perf_counter() - started
    raw_rows = len(frame)

    mark = time.perf_counter()
    panel = PricePanel.from_long(frame)
    del frame
    stages["normalize"] = time.perf_counter() - mark

    with tempfile.TemporaryDirectory() as directory:
        settings = MlSettings(model_path=Path(directory) / "model.skops")
        mark = time.perf_counter()
        model = train_model(panel, settings)
        stages["train"] = time.perf_counter() - mark

        mark = time.perf_counter()
        save_model(model, settings.resolved_model_path())
        stages["save"] = time.perf_counter() - mark
        model_bytes = settings.resolved_model_path().stat().st_size
    total = time.perf_counter() - started

    predictor = MlPredictor(settings, hint="", model=model)
    scoring = []
    for _ in range(3):
        mark = time.perf_counter()
        scored = len(predictor.predict(panel).scores)
        scoring.append(time.perf_counter() - mark)

    metadata = model.metadata
    return {
        "raw_rows": raw_rows,
        "bars": len(panel.frame),
        "symbols": len(panel),
        "training_rows": metadata.training_rows,
        "stages_s": stages,
        "total_s": total,
        "peak_rss_mb": _peak_rss_mb(),
        "model_bytes": model_bytes,
        "validation": metadata.validation.model_dump(mode="json") if metadata.validation else None,
        "score_universe_s": {"median": statistics.median(scoring), "runs": scoring},
        "scored_symbols": scored,
    }


def run_evaluate() -> dict[str, Any]:
    from clstock_core.app import Application
    from clstock_core.evaluation import EvaluationSettings, evaluate
    from clstock_core.evaluation.data import load_history

    environ = {**os.environ, "CLSTOCK_CACHE__USE": "none"}
    started = time.perf_counter()
    with Application(CONFIG, environ=environ) as app:
        universe = load_history(app.engine)
        loaded = time.perf_counter() - started
        predictors = [(name, app.component("predictors", name)) for name in ("ml", "technical")]
        settings = EvaluationSettings(start=dt.date(2016, 1, 1), end=dt.date(2024, 6, 28))
        mark = time.perf_counter()
        result = evaluate(universe.panel, predictors, settings)
        evaluated = time.perf_counter() - mark
    total = time.perf_counter() - started

    return {
        "symbols": len(universe.panel),
        "bars": len(universe.panel.frame),
        "rebalances": len(result.rebalance_dates),
        "retrains": len(result.retrain_dates),
        "load_s": loaded,
        "evaluate_s": evaluated,
        "total_s": total,
        "peak_rss_mb": _peak_rss_mb(),
        "strategy_s": {s.name: s.metrics["seconds"] for s in result.strategies},
        "metrics": {s.name: s.metrics for s in result.strategies},
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
        results[scenario] = _in_child(scenario)
        print(json.dumps({scenario: results[scenario]}, indent=2, default=str), file=sys.stderr)
    print(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
