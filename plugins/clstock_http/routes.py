"""The routes of the API under /api/v1, and the OpenAPI description of each."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from starlette.routing import Route

from clstock_core.models import Recommendation, RecommendationsResponse, StockData
from clstock_http.errors import ApiError, invalid_parameter
from clstock_http.params import (
    PERIOD,
    SYMBOL,
    TOP_N,
    Param,
    parse_period,
    parse_ticker,
    parse_top_n,
    query_params,
)
from clstock_http.schemas import CacheCleared, HealthResponse, ReadinessResponse, StockList
from clstock_http.state import ServerState

logger = logging.getLogger(__name__)

PREFIX = "/api/v1"
READER, ADMIN = "reader", "admin"

#: Scope key under which the guard leaves the authenticated caller, for the access log.
PRINCIPAL_KEY = "clstock.principal"

_JSON_TYPE = (b"content-type", b"application/json")

Handler = Callable[[dict, dict[str, str], ServerState], Awaitable[bytes]]


@dataclass(frozen=True)
class RouteSpec:
    """One operation: path, method, access rule, parameters and response model."""

    name: str
    method: str
    path: str
    summary: str
    response_model: type[BaseModel] | None
    role: str | None = None
    params: tuple[Param, ...] = ()
    errors: tuple[int, ...] = ()
    tag: str = "data"
    description: str = ""


class Endpoint:
    """The ASGI app of one route: guard, handler, then a JSON response."""

    def __init__(self, spec: RouteSpec, handler: Handler, state: ServerState) -> None:
        self.spec = spec
        self._handler = handler
        self._state = state
        self._query_names = frozenset(p.name for p in spec.params if p.location == "query")

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        state = self._state
        headers: list[tuple[bytes, bytes]] = []
        if self.spec.role is not None:
            if state.guard is None:
                raise _not_ready()
            principal, headers = state.guard.check(scope, self.spec.name, self.spec.role)
            scope[PRINCIPAL_KEY] = principal

        params = self._query(scope) if scope["query_string"] else {}
        body = await self._handler(scope, params, state)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [_JSON_TYPE, (b"content-length", b"%d" % len(body)), *headers],
            }
        )
        await send({"type": "http.response.body", "body": body})

    def _query(self, scope: dict) -> dict[str, str]:
        """Return the query parameters; an undocumented one is invalid."""
        params = query_params(scope)
        unknown = sorted(set(params) - self._query_names)
        if unknown:
            name = unknown[0][:40]
            accepted = sorted(self._query_names)
            raise invalid_parameter(
                name,
                f"unknown query parameter {name!r}; this route accepts "
                f"{', '.join(accepted) if accepted else 'no query parameters'}",
                accepted,
            )
        return params


def _not_ready() -> ApiError:
    return ApiError(
        503, "not_ready", "the server is starting or stopping; retry shortly", retry_after=5
    )


def _services(state: ServerState) -> ServerState:
    if not state.ready or state.ranking is None:
        raise _not_ready()
    return state


# -- handlers ------------------------------------------------------------------


async def recommendations(scope: dict, params: dict[str, str], state: ServerState) -> bytes:
    top_n = parse_top_n(params)
    snapshot = await _services(state).ranking.snapshot()  # type: ignore[union-attr]
    _, market = state.market.current()
    return snapshot.response_json(top_n, market)


async def recommendation(scope: dict, params: dict[str, str], state: ServerState) -> bytes:
    ticker = parse_ticker(scope)
    snapshot = await _services(state).ranking.snapshot()  # type: ignore[union-attr]
    body = snapshot.recommendation_json(ticker)
    if body is not None:
        return body
    if ticker in snapshot.skip_reasons:
        raise ApiError(
            404,
            "not_ranked",
            f"{ticker} is in the universe but has no recommendation: "
            f"{snapshot.skip_reasons[ticker]}",
        )
    raise ApiError(
        404,
        "unknown_symbol",
        f"{ticker} is not in the ranked universe; GET /api/v1/stocks lists it",
    )


async def stocks(scope: dict, params: dict[str, str], state: ServerState) -> bytes:
    _, body = await _services(state).stock_list.stocks()  # type: ignore[union-attr]
    return body


async def stock_data(scope: dict, params: dict[str, str], state: ServerState) -> bytes:
    ticker = parse_ticker(scope)
    period = parse_period(params)
    return await _services(state).stock_data.stock_json(ticker, period)  # type: ignore[union-attr]


async def clear_cache(scope: dict, params: dict[str, str], state: ServerState) -> bytes:
    services = _services(state)
    backend = state.application.component("cache")
    removed = await services.runner.run(backend.clear) if backend is not None else 0  # type: ignore[union-attr]
    in_memory = (
        services.ranking.clear()  # type: ignore[union-attr]
        + services.stock_data.clear()  # type: ignore[union-attr]
        + services.stock_list.clear()  # type: ignore[union-attr]
    )
    principal = scope.get(PRINCIPAL_KEY)
    logger.warning(
        "cache cleared by key %s (%s): %d backend entries, %d in memory",
        getattr(principal, "identity", "?"),
        getattr(principal, "label", ""),
        removed,
        in_memory,
    )
    return (
        CacheCleared(removed=removed, memory_entries_removed=in_memory).model_dump_json().encode()
    )


_HEALTH_BODY = HealthResponse().model_dump_json().encode()


async def health(scope: dict, params: dict[str, str], state: ServerState) -> bytes:
    return _HEALTH_BODY


async def openapi(scope: dict, params: dict[str, str], state: ServerState) -> bytes:
    return state.openapi


async def ready(scope: dict, params: dict[str, str], state: ServerState) -> bytes:
    if not state.ready:
        raise _not_ready()
    cached = state.ranking is not None and state.ranking.cached
    return (
        ReadinessResponse(components=state.components, ranking_cached=cached)
        .model_dump_json()
        .encode()
    )


# -- table ---------------------------------------------------------------------

_GUARDED = (400, 401, 403, 429, 500)

SPECS: dict[str, tuple[RouteSpec, Handler]] = {
    spec.name: (spec, handler)
    for spec, handler in [
        (
            RouteSpec(
                "recommendations",
                "GET",
                f"{PREFIX}/recommendations",
                "Ranked buy/sell recommendations and the market status",
                RecommendationsResponse,
                READER,
                (TOP_N,),
                (*_GUARDED, 422, 503),
                description=(
                    "The best `top_n` stocks of the universe with entry range, stop loss and "
                    "take-profit targets. `report` is the JSON of "
                    "`clstock recommend --format json`; "
                    "`market` tells whether the TSE is trading now (Asia/Tokyo)."
                ),
            ),
            recommendations,
        ),
        (
            RouteSpec(
                "recommendation",
                "GET",
                f"{PREFIX}/recommendation/{{symbol}}",
                "One stock's recommendation, ranked within the whole universe",
                Recommendation,
                READER,
                (SYMBOL,),
                (*_GUARDED, 404, 422, 503),
            ),
            recommendation,
        ),
        (
            RouteSpec(
                "stocks",
                "GET",
                f"{PREFIX}/stocks",
                "The stocks of the universe with codes and company names",
                StockList,
                READER,
                (),
                (*_GUARDED, 422, 503),
            ),
            stocks,
        ),
        (
            RouteSpec(
                "stock_data",
                "GET",
                f"{PREFIX}/stock/{{symbol}}/data",
                "Daily OHLCV bars over a period, latest indicators and the price change",
                StockData,
                READER,
                (SYMBOL, PERIOD),
                (*_GUARDED, 404, 422, 503),
                description="The JSON of `clstock data SYMBOL --format json`.",
            ),
            stock_data,
        ),
        (
            RouteSpec(
                "cache_clear",
                "DELETE",
                f"{PREFIX}/cache",
                "Clear the cache backend and the computed results in memory",
                CacheCleared,
                ADMIN,
                (),
                (*_GUARDED, 422, 503),
                tag="admin",
            ),
            clear_cache,
        ),
        (
            RouteSpec(
                "health",
                "GET",
                f"{PREFIX}/health",
                "Liveness: the process answers",
                HealthResponse,
                errors=(400, 422, 500),
                tag="operations",
            ),
            health,
        ),
        (
            RouteSpec(
                "ready",
                "GET",
                f"{PREFIX}/ready",
                "Readiness: every selected plugin started",
                ReadinessResponse,
                errors=(400, 422, 500, 503),
                tag="operations",
            ),
            ready,
        ),
        (
            RouteSpec(
                "openapi",
                "GET",
                f"{PREFIX}/openapi.json",
                "This OpenAPI document",
                None,
                errors=(400, 422, 500),
                tag="operations",
            ),
            openapi,
        ),
    ]
}


def build_routes(state: ServerState) -> list[Route]:
    return [
        Route(spec.path, Endpoint(spec, handler, state), methods=[spec.method], name=spec.name)
        for spec, handler in SPECS.values()
    ]
