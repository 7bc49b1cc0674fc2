"""A data source whose results a test scripts, and an application around it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from clstock_core.app import Application
from clstock_core.markers import hookimpl
from clstock_core.models import StockInfo
from clstock_core.registry import NoSettings
from clstock_core.roles import FetchResult
from tests.helpers import make_ohlcv

SYMBOLS = ["7203.T", "6758.T", "9984.T"]


class ScriptedSource:
    """Returns synthetic history, except where ``script(call, symbols)`` raises or returns failures.

    ``script`` gets the 1-based call number and the requested symbols and
    returns a dict of symbol to error for the symbols that fail, or raises.
    """

    def __init__(
        self,
        script: Callable[[int, list[str]], dict] | None = None,
        symbols: Sequence[str] = SYMBOLS,
    ):
        self.script = script
        self.symbols = list(symbols)
        self.calls: list[list[str]] = []

    def list_stocks(self) -> list[StockInfo]:
        return [
            StockInfo(code=s.split(".")[0], symbol=s, name=f"Company {s}") for s in self.symbols
        ]

    def fetch(self, symbols, *, start=None, end=None) -> FetchResult:
        requested = list(symbols)
        self.calls.append(requested)
        failures = self.script(len(self.calls), requested) if self.script else {}
        result = FetchResult()
        for index, ticker in enumerate(requested):
            if ticker in failures:
                result.failures[ticker] = failures[ticker]
            else:
                seed = self.symbols.index(ticker) if ticker in self.symbols else index
                result.histories[ticker] = make_ohlcv(200, seed=seed, drift=0.001 * seed)
        return result


class ScriptedPlugin:
    def __init__(self, source: ScriptedSource) -> None:
        self.source = source

    @hookimpl
    def clstock_register_data_sources(self, register):
        register("scripted", lambda settings, app: self.source, settings=NoSettings)


ENGINE_DEFAULTS = {
    "history_days": 20000,
    "batch_size": 1,
    "fetch_attempts": 3,
    "retry_initial_delay": 0.01,
    "retry_max_delay": 0.5,
}


def scripted_app(
    tmp_path: Path, source: ScriptedSource, *, cache: str = "none", **engine: object
) -> Application:
    """Build an application over ``source``; defaults: fast retries and one symbol per batch."""
    cache_table = ""
    if cache == "pickle":
        cache_table = f'[cache.pickle]\ndirectory = "{(tmp_path / "cache").as_posix()}"\n'
    settings = "\n".join(
        f"{key} = {value!r}" for key, value in {**ENGINE_DEFAULTS, **engine}.items()
    )
    config = tmp_path / "scripted.toml"
    config.write_text(
        f"""
[data_source]
use = "scripted"
[cache]
use = "{cache}"
{cache_table}
[engine]
{settings}
""",
        encoding="utf-8",
    )
    return Application(config, environ={}, extra_plugins=[("scripted", ScriptedPlugin(source))])
