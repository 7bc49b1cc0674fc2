"""Small plugins the HTTP tests register next to the bundled ones."""

from __future__ import annotations

import threading
from typing import Any

import pandas as pd
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from clstock_core.errors import SourceUnavailableError
from clstock_core.markers import hookimpl
from clstock_core.models import StockInfo
from clstock_core.roles import Prediction


class CountingPredictor:
    """Scores by last close; counts calls and can block until released."""

    name = "counting"

    def __init__(self) -> None:
        self.calls = 0
        self.started = threading.Event()
        self.release = threading.Event()
        self.release.set()

    def predict(self, panel: Any) -> Prediction:
        self.calls += 1
        self.started.set()
        self.release.wait(timeout=10)
        last = {symbol: float(panel.history(symbol)["close"].iloc[-1]) for symbol in panel.symbols}
        ranked = sorted(last, key=last.get)
        scores = pd.DataFrame(
            {
                "score": [100.0 * (i + 1) / len(ranked) for i in range(len(ranked))],
                "confidence": 0.5,
            },
            index=ranked,
        )
        return Prediction(scores=scores, rationale={s: ["last close rank"] for s in ranked})


class PredictorPlugin:
    def __init__(self, predictor: CountingPredictor) -> None:
        self.predictor = predictor

    @hookimpl
    def clstock_register_predictors(self, register: Any) -> None:
        register("counting", lambda settings, app: self.predictor)


class DownSource:
    """A data source whose upstream is down."""

    def __init__(self, *, listing_fails: bool = False, gate: threading.Event | None = None) -> None:
        self.listing_fails = listing_fails
        self.gate = gate
        self.fetching = threading.Event()
        self.fetches = 0

    def list_stocks(self) -> list[StockInfo]:
        if self.listing_fails:
            raise SourceUnavailableError(
                "upstream listing at https://internal.example/x failed", retry_after=17
            )
        return [StockInfo(code="7203", symbol="7203.T", name="Toyota")]

    def fetch(self, symbols: Any, *, start: Any = None, end: Any = None) -> Any:
        self.fetches += 1
        self.fetching.set()
        if self.gate is not None:
            self.gate.wait(timeout=10)
        raise SourceUnavailableError("HTTP 429 from upstream /var/secret/path", retry_after=42)


class DownSourcePlugin:
    def __init__(self, **options: Any) -> None:
        self.source = DownSource(**options)

    @hookimpl
    def clstock_register_data_sources(self, register: Any) -> None:
        register("down", lambda settings, app: self.source)


async def boom(request: Request) -> JSONResponse:
    """A plugin route that fails."""
    raise RuntimeError("secret detail at /srv/clstock/internal.py")


async def echo_app(request: Request) -> JSONResponse:
    """A plugin route that sets its own Cache-Control."""
    return JSONResponse(
        {"app": type(request.app).__name__}, headers={"Cache-Control": "max-age=60"}
    )


class RoutesPlugin:
    @hookimpl
    def clstock_http_routes(self, app: Any) -> list[Route]:
        return [
            Route("/api/v1/plugin/boom", boom),
            Route("/api/v1/plugin/echo/{name}", echo_app),
        ]


class ShutdownCounter:
    def __init__(self) -> None:
        self.calls = 0

    @hookimpl
    def clstock_shutdown(self, app: Any) -> None:
        self.calls += 1
