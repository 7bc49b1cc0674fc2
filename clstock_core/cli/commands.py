"""Kernel commands: recommend, stocks, data, plugins, config."""

from __future__ import annotations

import json

import click

from clstock_core.cli.context import get_app, get_state, progress_bar
from clstock_core.cli.output import table, to_csv, to_json
from clstock_core.errors import ClStockError
from clstock_core.lifecycle import batch_signals
from clstock_core.models import RankingReport
from clstock_core.registry import ROLE_HOOKS, ROLE_LABELS
from clstock_core.stockdata import PERIODS, build_stock_data

FORMATS = click.Choice(["table", "json", "csv"])


@click.command()
@click.option(
    "--top",
    "-n",
    type=click.IntRange(1, 500),
    help="Number of recommendations (default: [engine] top).",
)
@click.option(
    "--format",
    "output_format",
    type=FORMATS,
    default="table",
    show_default=True,
    help="Output format.",
)
@click.option("--symbol", "symbols", multiple=True, help="Rank only these symbols (repeatable).")
def recommend(top: int | None, output_format: str, symbols: tuple[str, ...]) -> None:
    """Rank the universe and print the best stocks to buy, with levels."""
    app = get_app()
    with batch_signals(app), progress_bar("Loading prices") as progress:
        report = app.engine.rank(top=top, symbols=list(symbols) or None, progress=progress)

    if not report.recommendations:
        raise _nothing_ranked(report)

    if output_format == "json":
        click.echo(to_json(report))
    elif output_format == "csv":
        click.echo(_report_csv(report), nl=False)
    else:
        click.echo(_report_table(report))
    _warn_skipped(report)


def _nothing_ranked(report: RankingReport) -> ClStockError:
    if report.universe_size == 0:
        return ClStockError(
            "the universe is empty; check the [data_source] settings and the universe file "
            "('clstock stocks' lists what the source offers)"
        )
    reasons = "; ".join(f"{item.symbol}: {item.reason}" for item in report.skipped[:3])
    more = f" (and {len(report.skipped) - 3} more)" if len(report.skipped) > 3 else ""
    return ClStockError(f"no stock could be ranked: {reasons}{more}")


_REC_HEADERS = [
    "rank",
    "code",
    "name",
    "action",
    "score",
    "price",
    "entry",
    "stop",
    "targets",
    "conf",
    "as of",
    "predictor",
]


def _report_rows(report: RankingReport) -> list[list[object]]:
    rows = []
    for rec in report.recommendations:
        targets = " / ".join(f"{t.price:g}" for t in rec.take_profit)
        rows.append(
            [
                rec.rank,
                rec.code,
                rec.company_name,
                rec.action.value,
                f"{rec.score:.1f}",
                f"{rec.current_price:g}",
                f"{rec.entry_price.low:g}-{rec.entry_price.high:g}",
                f"{rec.stop_loss:g}",
                targets,
                f"{rec.confidence:.2f}",
                rec.as_of.isoformat() + (" (stale)" if rec.stale else ""),
                rec.predictor,
            ]
        )
    return rows


def _report_table(report: RankingReport) -> str:
    header = (
        f"Top {len(report.recommendations)} of {report.universe_size} stocks, data as of "
        f"{report.as_of}, holding period "
        f"{report.recommendations[0].holding_period_days} trading days"
    )
    body = table(_REC_HEADERS, _report_rows(report), numeric={0, 4, 5, 7, 9})
    details = []
    for rec in report.recommendations:
        details.append(f"{rec.rank:>3}. {rec.code} {rec.company_name}: {'; '.join(rec.rationale)}")
    return "\n".join([header, "", body, "", "Why:", *details])


def _report_csv(report: RankingReport) -> str:
    headers = [
        "rank",
        "symbol",
        "code",
        "company_name",
        "action",
        "score",
        "current_price",
        "entry_low",
        "entry_high",
        "stop_loss",
        "take_profit",
        "holding_period_days",
        "confidence",
        "as_of",
        "stale",
        "predictor",
        "rationale",
    ]
    rows = [
        [
            r.rank,
            r.symbol,
            r.code,
            r.company_name,
            r.action.value,
            r.score,
            r.current_price,
            r.entry_price.low,
            r.entry_price.high,
            r.stop_loss,
            ";".join(f"{t.price:g}" for t in r.take_profit),
            r.holding_period_days,
            r.confidence,
            r.as_of.isoformat(),
            r.stale,
            r.predictor,
            "; ".join(r.rationale),
        ]
        for r in report.recommendations
    ]
    return to_csv(headers, rows)


def _warn_skipped(report: RankingReport) -> None:
    if not report.skipped:
        return
    click.echo(f"skipped {len(report.skipped)} symbol(s):", err=True)
    shown = report.skipped if get_state().debug else report.skipped[:10]
    for item in shown:
        click.echo(f"  {item.symbol}: {item.reason}", err=True)
    if len(shown) < len(report.skipped):
        click.echo(
            f"  ... and {len(report.skipped) - len(shown)} more (--debug lists all)", err=True
        )


@click.command()
@click.option("--format", "output_format", type=FORMATS, default="table", show_default=True)
def stocks(output_format: str) -> None:
    """List the stocks of the configured universe."""
    universe = get_app().engine.stocks()
    rows = [[s.code, s.symbol, s.name] for s in universe]
    if output_format == "json":
        click.echo(to_json(universe))
    elif output_format == "csv":
        click.echo(to_csv(["code", "symbol", "name"], rows), nl=False)
    else:
        click.echo(table(["code", "symbol", "name"], rows, max_width=60))


@click.command()
@click.argument("symbol")
@click.option(
    "--period",
    type=click.Choice(PERIODS),
    default="1y",
    show_default=True,
    help="How far back to show.",
)
@click.option("--format", "output_format", type=FORMATS, default="table", show_default=True)
def data(symbol: str, period: str, output_format: str) -> None:
    """Show one stock's daily prices and latest indicators."""
    app = get_app()
    stock = build_stock_data(app.engine, symbol, period)
    if output_format == "json":
        click.echo(to_json(stock))
        return
    headers = ["date", "open", "high", "low", "close", "volume"]
    rows = [
        [b.date.isoformat(), f"{b.open:g}", f"{b.high:g}", f"{b.low:g}", f"{b.close:g}", b.volume]
        for b in stock.bars
    ]
    if output_format == "csv":
        click.echo(to_csv(headers, rows), nl=False)
        return
    click.echo(f"{stock.symbol} {stock.company_name}  {period} to {stock.as_of}")
    click.echo(table(headers, rows[-30:], numeric={1, 2, 3, 4, 5}))
    ind = stock.indicators
    click.echo(
        f"change {stock.price_change:+g} ({stock.percent_change:+.2f}%)  SMA20 {_num(ind.sma20)}  "
        f"SMA50 {_num(ind.sma50)}  RSI14 {_num(ind.rsi14)}  MACD {_num(ind.macd)}  "
        f"ATR14 {_num(ind.atr14)}"
    )


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


@click.command()
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
)
def plugins(output_format: str) -> None:
    """List installed plugins, what they provide, and any that failed to load."""
    discovery = get_state().discovery
    provided: dict[str, list[str]] = {}
    for impl in discovery.registry.all():
        provided.setdefault(impl.plugin, []).append(f"{ROLE_LABELS[impl.role]} {impl.name!r}")

    if output_format == "json":
        payload = {
            "loaded": [
                {
                    "name": p.name,
                    "distribution": p.distribution,
                    "version": p.version,
                    "module": p.module,
                    "provides": sorted(provided.get(p.name, [])),
                }
                for p in discovery.loaded
            ],
            "failed": [
                {"name": f.name, "distribution": f.distribution, "error": f.error}
                for f in discovery.failures
            ],
            "disabled": discovery.disabled,
        }
        click.echo(json.dumps(payload, indent=2))
        return

    rows = [
        [p.name, p.distribution, p.version, ", ".join(sorted(provided.get(p.name, []))) or "-"]
        for p in discovery.loaded
    ]
    click.echo(table(["plugin", "distribution", "version", "provides"], rows, max_width=70))
    for failure in discovery.failures:
        click.echo(f"FAILED {failure.describe()}", err=True)
    if discovery.disabled:
        click.echo(f"disabled: {', '.join(discovery.disabled)}")


@click.group()
def config() -> None:
    """Validate or show the configuration."""


@config.command("check")
@click.argument("path", required=False, type=click.Path(dir_okay=False))
def config_check(path: str | None) -> None:
    """Validate a configuration file (default: --config or $CLSTOCK_CONFIG) without running."""
    state = get_state()
    if path is not None:
        state.config_path = path
    app = state.app()
    source = app.config.path or "built-in defaults"
    selected = ", ".join(f"{role}={app.config.selection[role]}" for role in ROLE_HOOKS)
    click.echo(f"{source}: OK ({selected})")


@config.command("show")
def config_show() -> None:
    """Print the effective configuration as JSON, secrets redacted."""
    app = get_app()
    click.echo(json.dumps(app.config.redacted(), indent=2, ensure_ascii=False, default=str))


def add_kernel_commands(group: click.Group) -> None:
    from clstock_core.cli.cache_commands import cache
    from clstock_core.evaluation.cli import evaluate

    for command in (recommend, stocks, data, plugins, config, cache, evaluate):
        group.add_command(command)


__all__ = ["add_kernel_commands"]
