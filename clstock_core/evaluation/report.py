"""Write an evaluation as a terminal table, JSON, CSV files and a PNG chart."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from clstock_core.cli.output import table, to_csv
from clstock_core.evaluation.walkforward import EvaluationResult

#: Metric key, table header, and format of each column of the summary table.
TABLE_COLUMNS = [
    ("rank_ic_mean", "rank IC", "{:+.4f}"),
    ("rank_ic_t", "IC t", "{:+.2f}"),
    ("top_minus_universe", "top-univ/period", "{:+.2%}"),
    ("hit_rate", "hit rate", "{:.1%}"),
    ("annual_return", "ann. return", "{:+.1%}"),
    ("annual_volatility", "ann. vol", "{:.1%}"),
    ("max_drawdown", "max DD", "{:.1%}"),
    ("turnover", "turnover", "{:.0%}"),
]

CHART_FILE = "cumulative_returns.png"


def _format(value: float, pattern: str) -> str:
    return "-" if value is None or not math.isfinite(value) else pattern.format(value)


def render_table(result: EvaluationResult) -> str:
    """Render the summary metrics of every strategy as a table, one row each."""
    settings = result.settings
    headers = ["strategy", *(header for _, header, _ in TABLE_COLUMNS)]
    rows = [
        [
            strategy.name,
            *(_format(strategy.metrics.get(key, math.nan), fmt) for key, _, fmt in TABLE_COLUMNS),
        ]
        for strategy in result.strategies
    ]
    first, last = result.rebalance_dates[0], result.rebalance_dates[-1]
    title = (
        f"Walk-forward {first} to {last}: {len(result.rebalance_dates)} {settings.rebalance} "
        f"rebalances, {result.symbols} symbols, top {settings.top} equal-weighted, "
        f"{settings.holding_days}-session "
        f"forward returns, {settings.cost_bps:g} bps per side, retrain {settings.retrain}"
    )
    notes = (
        "rank IC: mean Spearman correlation of score and forward return per rebalance; IC t: its "
        "t-statistic. top-univ: top-N minus universe mean forward return. hit rate: share of picks "
        "beating the universe mean. Turnover: one-way, per rebalance."
    )
    body = table(headers, rows, numeric=set(range(1, len(headers))))
    return "\n".join([title, "", body, "", notes])


def to_payload(result: EvaluationResult, command: str | None = None) -> dict[str, Any]:
    """Convert the whole result to JSON-ready data (NaN becomes null)."""
    payload = {
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": command,
        "settings": dataclasses.asdict(result.settings),
        "symbols": result.symbols,
        "rebalance_dates": result.rebalance_dates,
        "retrain_dates": result.retrain_dates,
        "strategies": {
            strategy.name: {
                "metrics": strategy.metrics,
                "periods": [dataclasses.asdict(period) for period in strategy.periods],
            }
            for strategy in result.strategies
        },
    }
    return _clean(payload)


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(key): _clean(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def write_report(
    result: EvaluationResult, directory: Path, command: str | None = None
) -> list[Path]:
    """Write evaluation.json, metrics.csv, periods.csv, equity.csv and the chart.

    Returns the paths written.
    """
    directory.mkdir(parents=True, exist_ok=True)
    written = []

    path = directory / "evaluation.json"
    path.write_text(
        json.dumps(to_payload(result, command), indent=2, ensure_ascii=False) + "\n",
        encoding="utf-8",
    )
    written.append(path)

    keys = list(result.strategies[0].metrics)
    rows = [[s.name, *(s.metrics.get(k) for k in keys)] for s in result.strategies]
    path = directory / "metrics.csv"
    path.write_text(to_csv(["strategy", *keys], rows), encoding="utf-8")
    written.append(path)

    path = directory / "periods.csv"
    path.write_text(_periods_csv(result), encoding="utf-8")
    written.append(path)

    equity = _equity(result)
    path = directory / "equity.csv"
    equity.to_csv(path, index_label="date", float_format="%.6f")
    written.append(path)

    path = directory / CHART_FILE
    _chart(result, equity, path)
    written.append(path)
    return written


def _periods_csv(result: EvaluationResult) -> str:
    headers = [
        "strategy",
        "date",
        "eligible",
        "scored",
        "rank_ic",
        "top_return",
        "universe_return",
        "hits",
        "turnover",
        "cost",
        "period_return",
        "picks",
        "error",
    ]
    rows = []
    for strategy in result.strategies:
        for p in strategy.periods:
            rows.append(
                [
                    strategy.name,
                    p.date.isoformat(),
                    p.eligible,
                    p.scored,
                    p.rank_ic,
                    p.top_return,
                    p.universe_return,
                    p.hits,
                    p.turnover,
                    p.cost,
                    p.period_return,
                    " ".join(p.picks),
                    p.error or "",
                ]
            )
    return to_csv(headers, rows)


def _equity(result: EvaluationResult) -> pd.DataFrame:
    """Growth of 1 yen in each strategy, after costs, at every session close."""
    curves = {s.name: (1 + s.daily_returns).cumprod() for s in result.strategies}
    return pd.DataFrame(curves)


def _chart(result: EvaluationResult, equity: pd.DataFrame, path: Path) -> None:
    # The object-oriented API with an explicit Agg canvas draws without a
    # display and leaves pyplot's global backend alone.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import LogLocator

    figure = Figure(figsize=(10, 5.5), dpi=110)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for name in equity.columns:
        axes.plot(equity.index, equity[name], label=name, linewidth=1.4)
    # Compounded returns over years are read as ratios, so the axis is logarithmic.
    axes.set_yscale("log")
    axes.axhline(1, color="grey", linewidth=0.8)
    axes.set_ylabel("growth of 1 yen after costs (log scale)")
    axes.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axes.yaxis.set_major_formatter(lambda value, _: f"{value:g}x")
    axes.yaxis.set_minor_formatter(lambda value, _: "")
    settings = result.settings
    axes.set_title(
        f"Top {settings.top} of {result.symbols} stocks, {settings.rebalance} rebalance, "
        f"{settings.cost_bps:g} bps per side"
    )
    axes.legend(loc="upper left", fontsize="small")
    axes.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path)
