"""``clstock cache``: statistics and maintenance of the configured cache backend."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import click

from clstock_core.cli.context import get_app

MIB = 1024 * 1024


@click.group()
def cache() -> None:
    """Show or maintain the cache of fetched price history ([cache] use)."""


@cache.command("stats")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
)
def cache_stats(output_format: str) -> None:
    """Print the number of entries, their total size and the location."""
    backend, name = _backend("stats")
    if backend is None:
        return
    stats = backend.stats()
    if output_format == "json":
        click.echo(json.dumps(dataclasses.asdict(stats), indent=2))
        return

    limit = f" of {_mib(stats.max_size_bytes)}" if stats.max_size_bytes else ""
    rows = [
        ["backend", stats.backend],
        ["location", stats.location],
        ["entries", stats.entries],
        ["size", f"{_mib(stats.size_bytes)}{limit}"],
    ]
    if stats.expired_entries is not None:
        rows.append(["expired", stats.expired_entries])
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        click.echo(f"{label:<{width}}  {value}")


@cache.command("clear")
def cache_clear() -> None:
    """Remove every cache entry."""
    backend, name = _backend("clear")
    if backend is None:
        return
    removed = backend.clear()
    click.echo(f"removed {removed} entries from the {name} cache")


@cache.command("prune")
def cache_prune() -> None:
    """Remove expired and unreadable entries, and evict entries over the size limit."""
    backend, name = _backend("prune")
    if backend is None:
        return
    removed = backend.prune()
    click.echo(f"pruned {removed} entries from the {name} cache")


def _backend(operation: str) -> tuple[Any, str]:
    """Return the selected cache backend and its name; None when the cache is off."""
    app = get_app()
    name = app.config.selected("cache")[0]
    backend = app.component("cache")
    if backend is None:
        click.echo('the cache is off ([cache] use = "none"); nothing to do', err=True)
        return None, name
    if not callable(getattr(backend, operation, None)):
        raise click.ClickException(
            f"cache backend {name!r} does not support '{operation}'; "
            f'select one that does in [cache] use, e.g. "pickle"'
        )
    return backend, name


def _mib(size: int) -> str:
    return f"{size / MIB:.1f} MiB"
