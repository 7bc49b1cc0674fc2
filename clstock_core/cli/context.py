"""Per-invocation state shared by every command, including plugin commands."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import click

from clstock_core.app import Application
from clstock_core.discovery import Discovery


@dataclass
class CliState:
    """Options of the root command and the application built from them."""

    discovery: Discovery
    config_path: str | None = None
    debug: bool = False
    quiet: bool = False
    _app: Application | None = field(default=None, repr=False)

    def app(self) -> Application:
        if self._app is None:
            self._app = Application(self.config_path, discovery=self.discovery)
            click.get_current_context().call_on_close(self._app.close)
        return self._app

    @property
    def show_progress(self) -> bool:
        return not self.quiet and sys.stderr.isatty()


def get_state() -> CliState:
    state = click.get_current_context().find_object(CliState)
    if state is None:
        raise RuntimeError("clstock commands must run under clstock_core.cli.main")
    return state


def get_app() -> Application:
    """Return the application for the running command, building it on first use."""
    return get_state().app()


@contextmanager
def progress_bar(label: str) -> Iterator[Callable[[int, int], None] | None]:
    """Yield a ``progress(done, total)`` callback drawing a bar on stderr.

    The bar is off when stderr is not a terminal or with ``--quiet``, so
    pipes and logs get no control characters.
    """
    if not get_state().show_progress:
        yield None
        return

    bar_holder: list[Any] = []

    def progress(done: int, total: int) -> None:
        if not bar_holder:
            started = click.progressbar(length=total, label=label, file=sys.stderr)
            started.__enter__()
            bar_holder.append(started)
        bar = bar_holder[0]
        bar.update(done - bar.pos)

    try:
        yield progress
    finally:
        if bar_holder:
            bar_holder[0].__exit__(None, None, None)  # type: ignore[attr-defined]
