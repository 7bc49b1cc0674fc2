"""Entry point of the ``clstock`` console script."""

from __future__ import annotations

import logging
import os
import sys
import traceback

import click

from clstock_core.cli.context import CliState, get_state
from clstock_core.discovery import Discovery, discover
from clstock_core.errors import (
    ClStockError,
    ConfigError,
    InvalidSymbolError,
    PluginError,
    ShutdownRequested,
)

EXIT_OK, EXIT_RUNTIME, EXIT_USAGE = 0, 1, 2

logger = logging.getLogger("clstock")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    help="TOML configuration file. Default: $CLSTOCK_CONFIG, else built-in defaults.",
)
@click.option("--debug", is_flag=True, help="Log debug messages and show tracebacks.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar; warnings and errors only.")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, debug: bool, quiet: bool) -> None:
    """ClStock: mid-term stock recommendations for the Tokyo Stock Exchange."""
    state = get_state()
    state.config_path = config_path
    state.debug = debug
    state.quiet = quiet
    _configure_logging(debug)


def _configure_logging(debug: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
        force=True,
    )


def build_cli(discovery: Discovery) -> click.Group:
    """Return the command group with kernel and plugin commands."""
    from clstock_core.cli import commands

    group = click.Group(
        name=cli.name,
        commands=dict(cli.commands),
        callback=cli.callback,
        params=list(cli.params),
        help=cli.help,
        context_settings=cli.context_settings,
    )
    commands.add_kernel_commands(group)

    for hookimpl in discovery.manager.hook.clstock_cli_commands.get_hookimpls():
        before = set(group.commands)
        added = _PluginGroup(group)
        hookimpl.function(cli=added)
        clashes = added.clashes & before
        if clashes:
            raise PluginError(
                f"plugin {hookimpl.plugin_name!r} adds command(s) {', '.join(sorted(clashes))}, "
                f"which already exist; disable it with "
                f"CLSTOCK_DISABLE_PLUGINS={hookimpl.plugin_name}"
            )
    return group


class _PluginGroup:
    """Wraps the root group so a plugin's command cannot silently replace another."""

    def __init__(self, group: click.Group) -> None:
        self._group = group
        self.clashes: set[str] = set()

    def add_command(self, command: click.Command, name: str | None = None) -> None:
        name = name or command.name
        if name in self._group.commands:
            self.clashes.add(name)  # type: ignore[arg-type]
            return
        self._group.add_command(command, name)

    def __getattr__(self, attribute: str) -> object:
        return getattr(self._group, attribute)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return the exit code: 0 ok, 1 runtime failure, 2 usage or config."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        discovery = discover()
        group = build_cli(discovery)
        state = CliState(discovery=discovery)
        result = group.main(args=argv, prog_name="clstock", standalone_mode=False, obj=state)
        return result if isinstance(result, int) else EXIT_OK
    except click.exceptions.Exit as stop:
        return stop.exit_code
    except click.ClickException as error:
        error.show()
        return error.exit_code
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return 130
    except ShutdownRequested as error:
        # A requested stop is not a failure: one line, no traceback.
        click.echo(f"clstock: {error}; partial results discarded", err=True)
        return error.exit_code
    except (ConfigError, PluginError, InvalidSymbolError) as error:
        return _fail(error, EXIT_USAGE, debug)
    except ClStockError as error:
        return _fail(error, EXIT_RUNTIME, debug)
    except KeyboardInterrupt:
        click.echo("clstock: interrupted", err=True)
        return 130
    except BrokenPipeError:
        # The reader of stdout went away (e.g. "| head"): that is not an
        # error. Point stdout at /dev/null so the exit flush cannot fail too.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK


def _fail(error: BaseException, code: int, debug: bool) -> int:
    if debug:
        traceback.print_exception(error)
    click.echo(f"clstock: error: {error}", err=True)
    return code


def run() -> None:
    sys.exit(main())
