"""The ``clstock evaluate`` command."""

from __future__ import annotations

import datetime as dt
import json
import shlex
from pathlib import Path
from typing import TYPE_CHECKING

import click

from clstock_core.cli.context import get_app, get_state, progress_bar
from clstock_core.lifecycle import batch_signals

if TYPE_CHECKING:
    from clstock_core.evaluation.walkforward import EvaluationSettings

ISO_DATE = click.DateTime(["%Y-%m-%d"])


@click.command()
@click.option("--start", type=ISO_DATE, required=True, help="Earliest rebalance date (YYYY-MM-DD).")
@click.option(
    "--end",
    type=ISO_DATE,
    help="Latest rebalance date (default: the last date with data).",
)
@click.option(
    "--top",
    "-n",
    type=click.IntRange(1, 500),
    default=10,
    show_default=True,
    help="Stocks held after each rebalance.",
)
@click.option(
    "--rebalance",
    type=click.Choice(["weekly", "monthly", "quarterly"]),
    default="monthly",
    show_default=True,
    help="Rebalance on the last session of each period.",
)
@click.option(
    "--retrain",
    type=click.Choice(["monthly", "quarterly", "yearly", "never"]),
    default="yearly",
    show_default=True,
    help="How often trainable predictors are retrained on past data ('never': once, at the start).",
)
@click.option(
    "--holding-days",
    type=click.IntRange(1, 250),
    help="Sessions over which forward returns are measured "
    "(default: [engine] holding_period_days).",
)
@click.option(
    "--cost-bps",
    type=click.FloatRange(0, 500),
    default=10.0,
    show_default=True,
    help="Transaction cost per side, in basis points of traded value.",
)
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Seed of the random-ranking baseline."
)
@click.option(
    "--predictor",
    "predictor_names",
    multiple=True,
    help="Predictor to evaluate (repeatable; default: every one in [predictors] use).",
)
@click.option(
    "--symbol", "symbols", multiple=True, help="Evaluate on these symbols only (repeatable)."
)
@click.option(
    "--report-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory for evaluation.json, the CSV files and the chart "
    "(default: ./evaluation-<timestamp>).",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="Format of the summary printed on stdout.",
)
def evaluate(
    start: dt.datetime,
    end: dt.datetime | None,
    top: int,
    rebalance: str,
    retrain: str,
    holding_days: int | None,
    cost_bps: float,
    seed: int,
    predictor_names: tuple[str, ...],
    symbols: tuple[str, ...],
    report_dir: Path | None,
    output_format: str,
) -> None:
    """Walk-forward backtest of the predictors and baselines, with no look-ahead.

    At each rebalance date every predictor receives only the bars known at that
    day's close; trainable ones are retrained on past data only. The top
    stocks are held equal-weighted from the next session's open.
    """
    from clstock_core.evaluation.data import load_history
    from clstock_core.evaluation.report import render_table, to_payload, write_report
    from clstock_core.evaluation.walkforward import EvaluationSettings
    from clstock_core.evaluation.walkforward import evaluate as run_evaluation

    app = get_app()
    names = list(predictor_names) or app.config.selected("predictors")
    predictors = [(name, app.component("predictors", name)) for name in names]

    with batch_signals(app) as signals:
        with progress_bar("Loading prices") as progress:
            universe = load_history(app.engine, list(symbols) or None, progress=progress)
        signals.check()
        panel = universe.panel
        if panel.as_of is None:
            raise click.ClickException("no price data loaded; check the data source settings")

        settings = EvaluationSettings(
            start=start.date(),
            end=end.date() if end else panel.as_of,
            top=top,
            rebalance=rebalance,  # type: ignore[arg-type]
            retrain=retrain,  # type: ignore[arg-type]
            holding_days=holding_days or app.config.engine.holding_period_days,
            cost_bps=cost_bps,
            seed=seed,
        )
        with progress_bar("Evaluating") as progress:
            result = run_evaluation(
                panel, predictors, settings, progress=progress, check=signals.check
            )

    directory = report_dir or Path(f"evaluation-{dt.datetime.now():%Y%m%d-%H%M%S}")
    command = _reproducing_command(app.config.path, settings, names, symbols)
    written = write_report(result, directory, command=command)

    if output_format == "json":
        click.echo(json.dumps(to_payload(result, command), indent=2, ensure_ascii=False))
    else:
        click.echo(render_table(result))
    if not get_state().quiet:
        click.echo(
            f"report written to {directory}/ ({', '.join(p.name for p in written)})", err=True
        )


def _reproducing_command(
    config: Path | None, settings: EvaluationSettings, names: list[str], symbols: tuple[str, ...]
) -> str:
    """Return the command line that repeats this evaluation, with every default written out."""
    words = ["clstock"]
    if config is not None:
        words += ["--config", str(config)]
    words += [
        "evaluate",
        "--start",
        settings.start.isoformat(),
        "--end",
        settings.end.isoformat(),
        "--top",
        str(settings.top),
        "--rebalance",
        settings.rebalance,
        "--retrain",
        settings.retrain,
        "--holding-days",
        str(settings.holding_days),
        "--cost-bps",
        f"{settings.cost_bps:g}",
        "--seed",
        str(settings.seed),
    ]
    for name in names:
        words += ["--predictor", name]
    for symbol in symbols:
        words += ["--symbol", symbol]
    return shlex.join(words)
