"""A data-source plugin that fetches CSV prices over HTTP, for fault tests.

Load it with ``CLSTOCK_PLUGINS=stub-http=tests.faults.stub_http_source``.
It uses the kernel's session factory, so retries, timeouts and Retry-After
handling are the ones real HTTP sources get. Its ``close`` and a temp file
it creates make shutdown observable: close appends a line to
``<marker_dir>/closed`` and the temp file must be gone after the process.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import pandas as pd
import requests
from pydantic import BaseModel, ConfigDict

from clstock_core.errors import (
    DataFetchError,
    NoDataError,
    SourceRateLimitedError,
    SourceUnavailableError,
)
from clstock_core.lifecycle.http import create_session
from clstock_core.markers import hookimpl
from clstock_core.models import StockInfo
from clstock_core.roles import FetchResult
from clstock_core.symbols import parse_symbol


class StubHttpSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    base_url: str
    symbols: list[str]
    marker_dir: Path
    retries: int = 2
    backoff_factor: float = 0.01
    max_retry_after: float = 5.0
    read_timeout: float = 5.0


class StubHttpSource:
    def __init__(self, settings: StubHttpSettings, app) -> None:
        self.settings = settings
        self.marker_dir = settings.marker_dir
        self.session = create_session(
            retries=settings.retries,
            backoff_factor=settings.backoff_factor,
            max_retry_after=settings.max_retry_after,
            read_timeout=settings.read_timeout,
            shutdown=app.shutdown,
            name="stub-http-session",
        )
        self.scratch = app.tempfiles.file(".csv")
        (self.marker_dir / "scratch").write_text(str(self.scratch), encoding="utf-8")

    def list_stocks(self) -> list[StockInfo]:
        return [
            StockInfo(code=parse_symbol(s).code, symbol=parse_symbol(s).ticker, name=s)
            for s in self.settings.symbols
        ]

    def fetch(self, symbols, *, start=None, end=None) -> FetchResult:
        result = FetchResult()
        for index, ticker in enumerate(symbols):
            try:
                response = self.session.get(f"{self.settings.base_url}/prices/{ticker}.csv")
            except requests.RequestException as error:
                result.failures[ticker] = SourceUnavailableError(
                    f"request for {ticker} failed: {error}"
                )
                continue

            if response.status_code == 429:
                retry_after = float(response.headers.get("Retry-After", "0") or 0)
                error = SourceRateLimitedError(f"HTTP 429 for {ticker}", retry_after=retry_after)
                for rest in symbols[index:]:
                    result.failures[rest] = error
                break
            if response.status_code >= 500:
                result.failures[ticker] = SourceUnavailableError(
                    f"HTTP {response.status_code} for {ticker}"
                )
            elif response.status_code == 404:
                result.failures[ticker] = NoDataError(ticker, "HTTP 404")
            elif response.status_code != 200:
                result.failures[ticker] = DataFetchError(
                    f"HTTP {response.status_code} for {ticker}"
                )
            else:
                result.histories[ticker] = _parse(response.text)
        return result

    def close(self) -> None:
        with open(self.marker_dir / "closed", "a", encoding="utf-8") as handle:
            handle.write(f"{os.getpid()}\n")


def _parse(text: str) -> pd.DataFrame:
    frame = pd.read_csv(io.StringIO(text), parse_dates=["date"]).set_index("date")
    return frame


@hookimpl
def clstock_register_data_sources(register):
    register(
        "stub-http",
        StubHttpSource,
        settings=StubHttpSettings,
        description="CSV prices over HTTP (tests)",
    )
