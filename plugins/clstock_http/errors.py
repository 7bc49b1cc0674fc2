"""Errors of the HTTP API and their JSON bodies.

Every error response has the body ``{"error": {"code", "message",
"request_id", ...}}``. Messages are written for the client. The text of
unexpected exceptions, tracebacks, file paths and upstream error details
go to the server log only, under the same request id.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

from starlette.exceptions import HTTPException

from clstock_core.errors import (
    AuthError,
    ClStockError,
    InvalidSymbolError,
    NoDataError,
    PermissionDeniedError,
    RateLimitExceeded,
    ShutdownRequested,
    SourceUnavailableError,
)
from clstock_http.schemas import ErrorDetail, ErrorResponse

logger = logging.getLogger(__name__)

Headers = list[tuple[bytes, bytes]]

#: Seconds a client should wait when the data source gives no hint.
DEFAULT_RETRY_AFTER = 30

#: Header that requests a bearer token, sent with every 401 (RFC 6750).
WWW_AUTHENTICATE = (b"www-authenticate", b'Bearer realm="clstock"')


class ApiError(Exception):
    """An error response: status, stable code, message and extra headers."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: Sequence[tuple[bytes, bytes]] = (),
        parameter: str | None = None,
        accepted: list[str] | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = list(headers)
        self.parameter = parameter
        self.accepted = accepted
        self.retry_after = retry_after
        if retry_after is not None:
            self.headers.append((b"retry-after", str(retry_after).encode("ascii")))

    def body(self, request_id: str) -> bytes:
        detail = ErrorDetail(
            code=self.code,
            message=self.message,
            request_id=request_id,
            parameter=self.parameter,
            accepted=self.accepted,
            retry_after=self.retry_after,
        )
        return ErrorResponse(error=detail).model_dump_json(exclude_none=True).encode()


def invalid_parameter(parameter: str, message: str, accepted: list[str]) -> ApiError:
    return ApiError(422, "invalid_parameter", message, parameter=parameter, accepted=accepted)


def retry_seconds(value: float | None) -> int:
    """Round a wait up to whole seconds, at least 1, as Retry-After requires."""
    if value is None or not math.isfinite(value):
        return DEFAULT_RETRY_AFTER
    return max(1, math.ceil(value))


def unauthorized(message: str, headers: Headers = ()) -> ApiError:  # type: ignore[assignment]
    return ApiError(401, "unauthorized", message, headers=[WWW_AUTHENTICATE, *headers])


def from_exception(error: BaseException) -> ApiError | None:
    """Map a known exception to its error response; None for an unexpected one."""
    if isinstance(error, ApiError):
        return error
    if isinstance(error, HTTPException):
        return _from_http_exception(error)
    if isinstance(error, ClStockError):
        return _from_clstock_error(error)
    return None


def _from_http_exception(error: HTTPException) -> ApiError:
    headers = [
        (name.lower().encode("latin-1"), value.encode("latin-1"))
        for name, value in (error.headers or {}).items()
    ]
    if error.status_code == 404:
        return ApiError(
            404,
            "not_found",
            "no such route; GET /api/v1/openapi.json lists the routes",
            headers=headers,
        )
    if error.status_code == 405:
        allowed = dict(error.headers or {}).get("Allow", "")
        return ApiError(
            405,
            "method_not_allowed",
            f"method not allowed; this route accepts {allowed}",
            headers=headers,
        )
    return ApiError(error.status_code, "http_error", str(error.detail), headers=headers)


def _from_clstock_error(error: ClStockError) -> ApiError | None:
    # Order matters: PermissionDeniedError is an AuthError, and
    # SourceUnavailableError and NoDataError are DataFetchErrors.
    if isinstance(error, PermissionDeniedError):
        return ApiError(403, "forbidden", str(error))
    if isinstance(error, AuthError):
        return unauthorized(str(error))
    if isinstance(error, RateLimitExceeded):
        seconds = retry_seconds(error.retry_after)
        return ApiError(
            429,
            "rate_limited",
            f"rate limit exceeded; retry after {seconds} s",
            retry_after=seconds,
        )
    if isinstance(error, InvalidSymbolError):
        return ApiError(
            422,
            "invalid_parameter",
            "invalid symbol: expected a 4-character TSE code such as '7203' or '130A', "
            "optionally with the suffix '.T'",
            parameter="symbol",
            accepted=["7203", "7203.T", "130A"],
        )
    if isinstance(error, NoDataError):
        # The detail may name a file or an upstream URL, so it goes to the log only.
        logger.info("no data: %s", error)
        return ApiError(
            404,
            "unknown_symbol",
            f"no data for symbol {error.symbol}; GET /api/v1/stocks lists the symbols served",
        )
    if isinstance(error, SourceUnavailableError):
        logger.warning("data source unavailable: %s", error)
        seconds = retry_seconds(error.retry_after)
        return ApiError(
            503,
            "source_unavailable",
            f"the price data source is unavailable or rate-limited; retry after {seconds} s",
            retry_after=seconds,
        )
    if isinstance(error, ShutdownRequested):
        return ApiError(
            503, "shutting_down", "the server is shutting down; retry shortly", retry_after=5
        )
    return None


def internal_error() -> ApiError:
    return ApiError(
        500,
        "internal_error",
        "internal server error; report the request id to the operator",
    )
