"""The OpenAPI 3.1 document, generated from the route table and the pydantic models."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from starlette.routing import BaseRoute, Route

from clstock_http.routes import SPECS, RouteSpec
from clstock_http.schemas import ErrorResponse

REF_TEMPLATE = "#/components/schemas/{model}"
SECURITY_SCHEME = "bearerAuth"

_STATUS_TEXT = {
    400: "A credential was sent in the query string; send it in the Authorization header",
    401: "Missing, malformed or unknown API key",
    403: "The API key lacks the role this route needs",
    404: "Unknown symbol, or no recommendation for it",
    405: "Method not allowed",
    422: "Invalid parameter; the body names it and the accepted values",
    429: "Rate limit exceeded; wait Retry-After seconds",
    500: "Internal error; the body carries the request id",
    503: "Data source unavailable or server not ready; wait Retry-After seconds",
}

_REQUEST_ID_HEADER = {
    "description": "Id of this request, also written to the server log",
    "schema": {"type": "string"},
}
_RATE_HEADERS = {
    "RateLimit-Limit": {
        "description": "Requests allowed per window",
        "schema": {"type": "integer"},
    },
    "RateLimit-Remaining": {"description": "Requests left now", "schema": {"type": "integer"}},
    "RateLimit-Reset": {
        "description": "Seconds until the full allowance is back",
        "schema": {"type": "integer"},
    },
}
_RETRY_AFTER = {
    "Retry-After": {"description": "Seconds to wait before retrying", "schema": {"type": "integer"}}
}


def build_openapi(extra_routes: Iterable[BaseRoute] = (), *, version: str = "1") -> dict[str, Any]:
    """Return the document for the built-in routes and any plugin routes."""
    specs = [spec for spec, _ in SPECS.values()]
    models: list[type[BaseModel]] = [
        ErrorResponse,
        *(s.response_model for s in specs if s.response_model),
    ]
    _, definitions = models_json_schema(
        [(model, "serialization") for model in dict.fromkeys(models)], ref_template=REF_TEMPLATE
    )

    paths: dict[str, dict[str, Any]] = {}
    for spec in specs:
        paths.setdefault(spec.path, {})[spec.method.lower()] = _operation(spec)
    for route in extra_routes:
        _add_plugin_route(paths, route)

    return {
        "openapi": "3.1.0",
        "info": {
            "title": "ClStock API",
            "version": version,
            "description": (
                "Mid-term (1-3 month) buy/sell recommendations for Tokyo Stock Exchange stocks. "
                "Send 'Authorization: Bearer <key>'; create keys with 'clstock keys create'."
            ),
        },
        "paths": paths,
        "components": {
            "schemas": definitions.get("$defs", {}),
            "securitySchemes": {
                SECURITY_SCHEME: {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "API key from 'clstock keys create'",
                }
            },
        },
    }


def openapi_json(extra_routes: Iterable[BaseRoute] = ()) -> bytes:
    return json.dumps(build_openapi(extra_routes), ensure_ascii=False).encode()


def _operation(spec: RouteSpec) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": spec.name,
        "summary": spec.summary,
        "tags": [spec.tag],
        "parameters": [
            {
                "name": param.name,
                "in": param.location,
                "required": param.required,
                "description": param.description,
                "schema": param.schema,
            }
            for param in spec.params
        ],
        "responses": _responses(spec),
    }
    if spec.description:
        operation["description"] = spec.description
    operation["security"] = [{SECURITY_SCHEME: []}] if spec.role else []
    if spec.role:
        operation["x-required-role"] = spec.role
    return operation


def _responses(spec: RouteSpec) -> dict[str, Any]:
    success_headers = {"X-Request-ID": _REQUEST_ID_HEADER}
    if spec.role:
        success_headers.update(_RATE_HEADERS)
    success: dict[str, Any] = {"description": "Success", "headers": success_headers}
    if spec.response_model is not None:
        schema = {"$ref": REF_TEMPLATE.format(model=spec.response_model.__name__)}
    else:
        schema = {"type": "object"}
    success["content"] = {"application/json": {"schema": schema}}

    responses: dict[str, Any] = {"200": success}
    for status in sorted(spec.errors):
        headers = {"X-Request-ID": _REQUEST_ID_HEADER}
        if spec.role and status in (401, 403, 429):
            headers.update(_RATE_HEADERS)
        if status in (429, 503):
            headers.update(_RETRY_AFTER)
        if status == 401:
            headers["WWW-Authenticate"] = {"description": "Bearer", "schema": {"type": "string"}}
        responses[str(status)] = {
            "description": _STATUS_TEXT[status],
            "headers": headers,
            "content": {
                "application/json": {"schema": {"$ref": REF_TEMPLATE.format(model="ErrorResponse")}}
            },
        }
    return responses


def _add_plugin_route(paths: dict[str, dict[str, Any]], route: BaseRoute) -> None:
    """Describe a plugin's route by path and methods; its plugin defines the rest."""
    if not isinstance(route, Route) or not route.include_in_schema:
        return
    summary = (route.endpoint.__doc__ or route.name or route.path).strip().splitlines()[0]
    for method in sorted(route.methods or {"GET"}):
        if method == "HEAD":
            continue
        paths.setdefault(route.path, {})[method.lower()] = {
            "operationId": f"plugin_{route.name}_{method.lower()}",
            "summary": summary,
            "tags": ["plugins"],
            "parameters": [
                {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                for name in route.param_convertors
            ],
            "responses": {"default": {"description": "Defined by the plugin that adds this route"}},
        }
