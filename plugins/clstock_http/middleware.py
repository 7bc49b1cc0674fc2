"""The outermost ASGI layer: request ids, security headers, error bodies, access log.

It is plain ASGI (no BaseHTTPMiddleware): it only wraps ``send`` to add
headers to the response start message, so a response costs one extra list
concatenation rather than a task and a memory stream.
"""

from __future__ import annotations

import logging
import time
from typing import Any
from urllib.parse import parse_qsl

from clstock_http.errors import ApiError, from_exception, internal_error
from clstock_http.logging_setup import accept_request_id, request_id_var
from clstock_http.routes import PRINCIPAL_KEY, Endpoint

logger = logging.getLogger(__name__)
access_logger = logging.getLogger("clstock_http.access")

#: Query parameter names that look like credentials.
CREDENTIAL_PARAMS = frozenset(
    {
        "api_key",
        "apikey",
        "api-key",
        "key",
        "token",
        "access_token",
        "auth",
        "authorization",
        "bearer",
    }
)
#: Cheap pre-check before parsing a query string for credential names.
_CREDENTIAL_HINTS = (b"key", b"token", b"auth", b"bearer")


class ApiMiddleware:
    """Wraps the router: every response gets the security headers and X-Request-ID."""

    def __init__(
        self, app: Any, *, owner: Any, security_headers: dict[str, str], access_log: bool
    ) -> None:
        self.app = app
        self._owner = owner
        self._headers = [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in security_headers.items()
        ]
        self._header_names = frozenset(name for name, _ in self._headers)
        self._access_log = access_log

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        started = time.perf_counter() if self._access_log else 0.0
        request_id = accept_request_id(_header(scope, b"x-request-id"))
        token = request_id_var.set(request_id)
        # Starlette's router raises HTTPException for 404 and 405 when an
        # "app" is in the scope, which lets this class render them as JSON.
        scope["app"] = self._owner
        added = [*self._headers, (b"x-request-id", request_id.encode("ascii"))]
        state = {"status": 0}

        async def send_with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
                message["headers"] = self._merge(scope, message.get("headers", ()), added)
            await send(message)

        try:
            if scope["query_string"]:
                _reject_query_credentials(scope["query_string"])
            await self.app(scope, receive, send_with_headers)
        # The boundary of the whole API: whatever a route or plugin raises
        # becomes a JSON error body, and unexpected errors are logged here.
        except Exception as error:  # noqa: BLE001
            await self._send_error(error, scope, send_with_headers, state, request_id)
        finally:
            if self._access_log:
                self._log_access(scope, state["status"], started)
            request_id_var.reset(token)

    def _merge(
        self, scope: dict, headers: Any, added: list[tuple[bytes, bytes]]
    ) -> list[tuple[bytes, bytes]]:
        """Append the security headers; a header that a plugin's route set itself wins.

        The API's own endpoints never set these headers, so their responses
        skip the comparison.
        """
        headers = list(headers)
        if not isinstance(scope.get("endpoint"), Endpoint):
            present = {name.lower() for name, _ in headers}
            if not self._header_names.isdisjoint(present):
                added = [item for item in added if item[0] not in present]
        return headers + added

    async def _send_error(
        self, error: Exception, scope: dict, send: Any, state: dict, request_id: str
    ) -> None:
        api_error = from_exception(error)
        if api_error is None:
            logger.error("unhandled error in %s %s", scope["method"], _path(scope), exc_info=error)
            api_error = internal_error()
        if state["status"]:
            # The status line is already on the wire: nothing can be sent.
            logger.error("error after the response started: %s", api_error.code)
            return
        body = api_error.body(request_id)
        await send(
            {
                "type": "http.response.start",
                "status": api_error.status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode("ascii")),
                    *api_error.headers,
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    def _log_access(self, scope: dict, status: int, started: float) -> None:
        if not access_logger.isEnabledFor(logging.INFO):
            return
        client = scope.get("client")
        principal = scope.get(PRINCIPAL_KEY)
        caller = f"key {principal.identity} ({principal.label or 'no label'})" if principal else "-"
        access_logger.info(
            "%s %s %s %d %.1fms %s",
            client[0] if client else "-",
            scope["method"],
            _path(scope),
            status,
            (time.perf_counter() - started) * 1000,
            caller,
        )


def _header(scope: dict, wanted: bytes) -> bytes | None:
    for name, value in scope["headers"]:
        if name == wanted:
            return value
    return None


def _path(scope: dict) -> str:
    """Return the request path as sent, still percent-encoded and without the query.

    The raw form cannot contain line breaks, so it is safe in a log line,
    and leaving out the query keeps any credential sent there out of logs.
    """
    raw = scope.get("raw_path")
    if not raw:
        return scope.get("path", "")
    return raw.split(b"?", 1)[0].decode("latin-1")


def _reject_query_credentials(query: bytes) -> None:
    lowered = query.lower()
    if not any(hint in lowered for hint in _CREDENTIAL_HINTS):
        return
    for name, _ in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        if name.lower() in CREDENTIAL_PARAMS:
            raise ApiError(
                400,
                "credentials_in_query",
                f"query parameter {name!r} looks like a credential; send the key in the "
                "'Authorization: Bearer <key>' header instead, and replace the exposed key",
                parameter=name,
            )
