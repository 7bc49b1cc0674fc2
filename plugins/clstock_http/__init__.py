"""The ``http`` front-end: the secured JSON API behind ``clstock serve``."""

from clstock_core.markers import hookimpl


@hookimpl
def clstock_register_frontends(register):
    from clstock_http.server import HttpFrontend
    from clstock_http.settings import HttpSettings

    register(
        "http",
        HttpFrontend.from_settings,
        settings=HttpSettings,
        description="JSON API over HTTP (Starlette on uvicorn) with API keys and rate limits",
    )


@hookimpl
def clstock_cli_commands(cli):
    from clstock_http.cli import serve

    cli.add_command(serve)
