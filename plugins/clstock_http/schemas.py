"""Response models that only the HTTP API uses.

Data responses reuse the kernel's models (clstock_core.models), so a JSON
body matches ``clstock ... --format json`` field for field.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from clstock_core.models import StockInfo


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ErrorDetail(_Model):
    """Details of an error: a stable machine-readable code and a sentence."""

    code: str = Field(description="Stable error code, e.g. 'invalid_parameter' or 'rate_limited'")
    message: str = Field(description="What failed and what to do next")
    request_id: str = Field(
        description="Id of the request, also in the X-Request-ID header and server logs"
    )
    parameter: str | None = Field(
        default=None, description="The invalid parameter, if one is at fault"
    )
    accepted: list[str] | None = Field(
        default=None, description="Values or range the parameter accepts"
    )
    retry_after: int | None = Field(default=None, description="Seconds to wait before retrying")


class ErrorResponse(_Model):
    """The body of every error response."""

    error: ErrorDetail


class StockList(_Model):
    """The stocks the API ranks."""

    count: int = Field(ge=0)
    stocks: list[StockInfo]


class HealthResponse(_Model):
    """Liveness: the process serves requests."""

    status: Literal["ok"] = "ok"


class ReadinessResponse(_Model):
    """Readiness: every selected component started."""

    status: Literal["ready"] = "ready"
    components: dict[str, Literal["ok", "off"]] = Field(
        description="Each role of the application: 'ok' when started, 'off' when configured as none"
    )
    ranking_cached: bool = Field(
        description="True once a ranking is computed and served from memory"
    )


class CacheCleared(_Model):
    """The result of clearing the caches."""

    removed: int = Field(ge=0, description="Entries removed from the cache backend")
    memory_entries_removed: int = Field(
        ge=0, description="Computed results dropped from server memory"
    )
