"""``clstock serve``: run the configured front-end."""

from __future__ import annotations

import click

from clstock_core.cli.context import get_app, get_state
from clstock_http.settings import HttpSettings

LOG_LEVELS = click.Choice(["critical", "error", "warning", "info", "debug"])


@click.command()
@click.option("--host", help="Address to bind. Default: [frontend.http] host, else 127.0.0.1.")
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    help="TCP port. Default: [frontend.http] port, else 8000.",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    help="Worker processes. Default: [frontend.http] workers, else 1.",
)
@click.option(
    "--log-level",
    type=LOG_LEVELS,
    help="Server log level. Default: [frontend.http] log_level, else info.",
)
def serve(host: str | None, port: int | None, workers: int | None, log_level: str | None) -> int:
    """Serve the HTTP API until SIGINT or SIGTERM (exit code 0 after a clean stop)."""
    app = get_app()
    overrides = {
        key: value
        for key, value in {
            "host": host,
            "port": port,
            "workers": workers,
            "log_level": log_level,
        }.items()
        if value is not None
    }
    if get_state().debug and log_level is None:
        overrides["log_level"] = "debug"

    key = ("frontend", "http")
    current = app.config.settings.get(key)
    if overrides:
        # Validate only the options given, then copy them over the configured
        # settings, so merged fields such as security_headers stay as loaded.
        checked = HttpSettings.model_validate(overrides)
        base = current if isinstance(current, HttpSettings) else HttpSettings()
        app.config.settings[key] = base.model_copy(
            update={name: getattr(checked, name) for name in overrides}
        )

    return app.component("frontend").serve()
