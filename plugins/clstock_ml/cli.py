"""The ``clstock train`` command."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from clstock_core.cli.context import get_app, get_state, progress_bar
from clstock_core.lifecycle import batch_signals

if TYPE_CHECKING:
    from clstock_ml.model_file import ModelMetadata

#: Calendar days loaded before the training start, so that the first training
#: rows already have the 250-bar look-back of the longest features.
WARMUP_DAYS = 400


class StageLog:
    """Prints each training stage on stderr with the time elapsed so far (silent with --quiet)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.started = time.perf_counter()

    def __call__(self, message: str) -> None:
        if self.enabled:
            elapsed = time.perf_counter() - self.started
            click.echo(f"[{elapsed:6.1f} s] {message}", err=True)


@click.command()
@click.option(
    "--start",
    type=click.DateTime(["%Y-%m-%d"]),
    help="First bar date to train on (default: [predictors.ml] train_start, else all history).",
)
@click.option(
    "--end",
    type=click.DateTime(["%Y-%m-%d"]),
    help="Last bar date to train on; later bars are ignored "
    "(default: [predictors.ml] train_end, else all).",
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Model file to write (default: [predictors.ml] model_path).",
)
@click.option(
    "--symbol", "symbols", multiple=True, help="Train on these symbols only (repeatable)."
)
def train(
    start: dt.datetime | None,
    end: dt.datetime | None,
    output: Path | None,
    symbols: tuple[str, ...],
) -> None:
    """Train the ml predictor's model on the configured universe and save it."""
    from clstock_core.evaluation.data import load_history
    from clstock_ml.model_file import save_model
    from clstock_ml.training import train_model

    app = get_app()
    settings = app.component("predictors", "ml").settings
    first = start.date() if start else settings.train_start
    last = end.date() if end else settings.train_end
    if first and last and first > last:
        raise click.UsageError(
            f"the training window starts on {first}, after its end on {last}; "
            f"check --start/--end and [predictors.ml] train_start/train_end"
        )
    settings = settings.model_copy(update={"train_start": first, "train_end": last})
    path = (output or settings.resolved_model_path()).expanduser()
    log = StageLog(enabled=not get_state().quiet)

    with batch_signals(app) as signals:
        load_from = (
            settings.train_start - dt.timedelta(days=WARMUP_DAYS) if settings.train_start else None
        )
        with progress_bar("Loading prices") as progress:
            universe = load_history(
                app.engine, list(symbols) or None, start=load_from, progress=progress
            )
        signals.check()
        log(f"loaded {len(universe.panel.frame):,} bars of {len(universe.panel)} symbols")
        failures = sorted(universe.failures.items())
        for ticker, reason in failures[:5]:
            click.echo(f"  skipped {ticker}: {reason}", err=True)
        if len(failures) > 5:
            click.echo(f"  ... and {len(failures) - 5} more symbol(s) without data", err=True)

        def stage(message: str) -> None:
            # A stop request is honoured between stages; a running fit is not
            # interrupted, but a second signal exits at once.
            signals.check()
            log(message)

        model = train_model(universe.panel, settings, stage=stage)
        signals.check()
        save_model(model, path)
        log("done")

    _print_summary(model.metadata, path)


def _print_summary(metadata: ModelMetadata, path: Path) -> None:
    click.echo(f"model: {path}")
    click.echo(
        f"trained on {metadata.training_rows:,} rows of {metadata.symbols} symbols, "
        f"{metadata.train_start} to {metadata.train_end}"
    )
    click.echo(
        f"target: {metadata.target} {metadata.horizon_days}-day forward return; "
        f"{len(metadata.features)} features; scikit-learn {metadata.sklearn_version}"
    )
    validation = metadata.validation
    if validation is None:
        click.echo("validation: none (validation_fraction = 0)")
        return
    click.echo(
        f"validation {validation.start} to {validation.end} "
        f"({validation.dates} dates, {validation.rows:,} rows): "
        f"mean rank IC {validation.rank_ic_mean:+.4f} (t = {validation.rank_ic_t:.2f}), "
        f"R^2 {validation.r2:+.4f}, MAE {validation.mean_absolute_error:.4f}"
    )
