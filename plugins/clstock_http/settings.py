"""Settings of the ``http`` front-end, in ``[frontend.http]``."""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, IPvAnyNetwork, field_validator

LogLevel = Literal["critical", "error", "warning", "info", "debug"]

#: Response headers added to every response, errors included.
DEFAULT_SECURITY_HEADERS: dict[str, str] = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # Browsers ignore HSTS over plain HTTP, so this only takes effect once a
    # TLS-terminating proxy serves the API over HTTPS.
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
    "Referrer-Policy": "no-referrer",
    # A JSON API loads nothing and must never be framed.
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    # Responses carry account-specific data behind API keys: no shared or
    # browser cache may keep them.
    "Cache-Control": "no-store",
    # "0" switches the legacy XSS auditor off. The auditor of old browsers
    # could be abused to leak data across origins or to disable scripts
    # selectively, current browsers removed it, and the CSP above is the
    # real protection (OWASP Secure Headers Project recommendation).
    "X-XSS-Protection": "0",
}


class HttpSettings(BaseModel):
    """Options of ``clstock serve``; the command-line options override them."""

    model_config = ConfigDict(extra="forbid")

    host: str = Field(
        default="127.0.0.1", description="Address to bind; 0.0.0.0 serves every interface"
    )
    port: int = Field(default=8000, ge=1, le=65535, description="TCP port to bind")
    workers: int = Field(
        default=1,
        ge=1,
        le=64,
        description="Worker processes; each keeps its own caches and rate-limit counters",
    )
    log_level: LogLevel = Field(default="info", description="Server log level")
    access_log: bool = Field(default=True, description="Log one line per request at info level")
    trusted_proxies: list[IPvAnyNetwork] = Field(
        default_factory=list,
        description=(
            "Addresses or networks of reverse proxies whose X-Forwarded-For header is "
            'believed, e.g. ["127.0.0.1", "10.0.0.0/8"]; empty: the header is ignored'
        ),
    )
    security_headers: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_SECURITY_HEADERS),
        description=(
            'Headers added to every response; given entries replace the defaults, "" removes one'
        ),
    )
    refresh_seconds: float = Field(
        default=300.0,
        ge=1.0,
        description="Seconds a computed ranking or stock history is served before it is reloaded",
    )
    warm_up: bool = Field(
        default=True, description="Compute the ranking in the background at startup"
    )
    stock_data_cache_size: int = Field(
        default=256, ge=0, description="Stock histories (symbol and period) kept in memory"
    )
    engine_threads: int = Field(
        default=4, ge=1, le=64, description="Threads that run the ranking engine and data loads"
    )
    graceful_shutdown_seconds: float = Field(
        default=10.0, ge=0.0, description="Seconds open requests may take to finish on SIGTERM"
    )

    @field_validator("security_headers")
    @classmethod
    def _merge_headers(cls, headers: dict[str, str]) -> dict[str, str]:
        merged = {name.lower(): (name, value) for name, value in DEFAULT_SECURITY_HEADERS.items()}
        for name, value in headers.items():
            if not name.isascii() or not value.isascii() or "\n" in value or "\r" in value:
                raise ValueError(
                    f"invalid header {name!r}: names and values must be ASCII on one line"
                )
            merged[name.lower()] = (name, value)
        return {name: value for name, value in merged.values() if value}

    @field_validator("host")
    @classmethod
    def _check_host(cls, host: str) -> str:
        if not host or any(char.isspace() for char in host):
            raise ValueError(f"invalid host {host!r}: give an IP address or a host name")
        return host


def is_loopback_host(host: str) -> bool:
    """Return whether binding ``host`` keeps the server on this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
