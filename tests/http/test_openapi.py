"""The OpenAPI document: routes, parameters, models, errors and the security scheme."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from clstock_http.openapi import build_openapi
from clstock_http.routes import SPECS
from starlette.testclient import TestClient


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return build_openapi()


def resolve(document: dict[str, Any], ref: str) -> dict[str, Any]:
    assert ref.startswith("#/components/schemas/")
    return document["components"]["schemas"][ref.rsplit("/", 1)[1]]


def test_document_is_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"] == "3.1.0"
    schemathesis.openapi.from_dict(document)  # raises on an invalid document


def test_every_route_is_documented(document: dict[str, Any]) -> None:
    documented = {
        (method.upper(), path) for path, item in document["paths"].items() for method in item
    }

    assert documented == {(spec.method, spec.path) for spec, _ in SPECS.values()}


def test_served_document_equals_built_one(client: TestClient, document: dict[str, Any]) -> None:
    assert client.get("/api/v1/openapi.json").json() == document


def test_bearer_security_scheme(document: dict[str, Any]) -> None:
    scheme = document["components"]["securitySchemes"]["bearerAuth"]

    assert scheme == {"type": "http", "scheme": "bearer", "description": scheme["description"]}


@pytest.mark.parametrize(
    ("path", "role"),
    [
        ("/api/v1/recommendations", "reader"),
        ("/api/v1/recommendation/{symbol}", "reader"),
        ("/api/v1/stocks", "reader"),
        ("/api/v1/stock/{symbol}/data", "reader"),
    ],
)
def test_data_routes_require_bearer(document: dict[str, Any], path: str, role: str) -> None:
    operation = document["paths"][path]["get"]

    assert operation["security"] == [{"bearerAuth": []}]
    assert operation["x-required-role"] == role
    assert {"401", "403", "429"} <= set(operation["responses"])


def test_admin_route_requires_admin(document: dict[str, Any]) -> None:
    assert document["paths"]["/api/v1/cache"]["delete"]["x-required-role"] == "admin"


@pytest.mark.parametrize("path", ["/api/v1/health", "/api/v1/ready", "/api/v1/openapi.json"])
def test_public_routes_have_no_security(document: dict[str, Any], path: str) -> None:
    assert document["paths"][path]["get"]["security"] == []


def test_parameters_are_described(document: dict[str, Any]) -> None:
    top_n = document["paths"]["/api/v1/recommendations"]["get"]["parameters"][0]
    data = document["paths"]["/api/v1/stock/{symbol}/data"]["get"]["parameters"]

    assert top_n["schema"] == {"type": "integer", "minimum": 1, "maximum": 50, "default": 10}
    assert data[0]["in"] == "path"
    assert data[0]["required"] is True
    assert data[1]["schema"]["enum"] == ["1mo", "3mo", "6mo", "1y", "2y", "5y", "max"]


@pytest.mark.parametrize(
    ("path", "model"),
    [
        ("/api/v1/recommendations", "RecommendationsResponse"),
        ("/api/v1/recommendation/{symbol}", "Recommendation"),
        ("/api/v1/stocks", "StockList"),
        ("/api/v1/stock/{symbol}/data", "StockData"),
        ("/api/v1/health", "HealthResponse"),
        ("/api/v1/ready", "ReadinessResponse"),
    ],
)
def test_response_models_are_referenced(document: dict[str, Any], path: str, model: str) -> None:
    schema = document["paths"][path]["get"]["responses"]["200"]["content"]["application/json"][
        "schema"
    ]

    assert schema == {"$ref": f"#/components/schemas/{model}"}
    assert resolve(document, schema["$ref"])["type"] == "object"


def test_errors_use_the_error_model(document: dict[str, Any]) -> None:
    for item in document["paths"].values():
        for operation in item.values():
            for status, response in operation["responses"].items():
                if status == "200":
                    continue
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorResponse"}
                assert "X-Request-ID" in response["headers"]


def test_every_reference_resolves(document: dict[str, Any]) -> None:
    refs: list[str] = []

    def collect(node: Any) -> None:
        if isinstance(node, dict):
            if "$ref" in node:
                refs.append(node["$ref"])
            for value in node.values():
                collect(value)
        elif isinstance(node, list):
            for value in node:
                collect(value)

    collect(document)
    assert refs
    for ref in refs:
        resolve(document, ref)


def test_retry_after_documented_on_429_and_503(document: dict[str, Any]) -> None:
    responses = document["paths"]["/api/v1/recommendations"]["get"]["responses"]

    assert "Retry-After" in responses["429"]["headers"]
    assert "Retry-After" in responses["503"]["headers"]
    assert "WWW-Authenticate" in responses["401"]["headers"]
