"""Settings of the ``limiter`` rate limiter, in ``[rate_limiter.limiter]``."""

from __future__ import annotations

import limits
from pydantic import BaseModel, ConfigDict, Field, field_validator

#: Route names of the HTTP API and their default limits.
DEFAULT_LIMITS: dict[str, str] = {
    "recommendations": "50/minute",
    "recommendation": "100/minute",
    "stocks": "200/minute",
    "stock_data": "150/minute",
    "cache_clear": "10/minute",
}

#: Written as a route's limit to switch limiting off for that route.
NO_LIMIT = "none"


class LimiterSettings(BaseModel):
    """Per-route limits such as ``"50/minute"``; routes not given keep their default."""

    model_config = ConfigDict(extra="forbid")

    routes: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_LIMITS),
        description=(
            'Limit per route name, e.g. recommendations = "50/minute" or "5 per second"; '
            '"none" turns a route\'s limit off'
        ),
    )
    max_clients: int = Field(
        default=100_000,
        ge=1,
        description=(
            "Client identities tracked per route; the least recently seen are dropped first"
        ),
    )

    @field_validator("routes")
    @classmethod
    def _merge_and_check(cls, routes: dict[str, str]) -> dict[str, str]:
        merged = {**DEFAULT_LIMITS, **routes}
        for route, text in merged.items():
            if text.strip().lower() == NO_LIMIT:
                continue
            try:
                limits.parse(text)
            except ValueError:
                raise ValueError(
                    f'invalid limit {text!r} for route {route!r}: write e.g. "50/minute", '
                    f'"10 per second" or "none"'
                ) from None
        return merged
