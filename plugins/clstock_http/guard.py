"""Authentication, rate limiting and role checks in front of every protected route."""

from __future__ import annotations

import ipaddress
import logging
import math
from typing import Any

from clstock_core.errors import AuthError
from clstock_core.roles import Principal, RateLimitDecision
from clstock_http.clients import ClientResolver
from clstock_http.errors import ApiError, Headers, retry_seconds, unauthorized

logger = logging.getLogger(__name__)


def rate_limit_headers(decision: RateLimitDecision) -> Headers:
    """Return the RateLimit-* headers of draft-ietf-httpapi-ratelimit-headers (up to -06)."""
    return [
        (b"ratelimit-limit", b"%d" % decision.limit),
        (b"ratelimit-remaining", b"%d" % decision.remaining),
        (b"ratelimit-reset", b"%d" % max(0, math.ceil(decision.reset_after))),
    ]


class Guard:
    """Checks one request: credentials, then the rate limit, then the role.

    The rate limit is counted before a failed authentication is reported,
    so key guessing is throttled per client address. A client that presents
    a valid key is counted under the key's fingerprint; anyone else under
    their address.
    """

    def __init__(self, auth: Any, limiter: Any | None, clients: ClientResolver) -> None:
        self._auth = auth
        self._limiter = limiter
        self._clients = clients
        self._loopback_only = bool(getattr(auth, "loopback_only", False))

    def check(self, scope: dict, route: str, role: str) -> tuple[Principal, Headers]:
        """Return the caller and the rate-limit headers, or raise :class:`ApiError`."""
        if self._loopback_only:
            self._require_loopback(scope)

        principal: Principal | None = None
        failure: AuthError | None = None
        try:
            principal = self._auth.authenticate(_authorization(scope))
        except AuthError as error:
            failure = error

        identity = f"key:{principal.identity}" if principal else f"ip:{self._clients.client(scope)}"
        headers: Headers = []
        if self._limiter is not None:
            decision = self._limiter.hit(route, identity)
            if decision is not None:
                headers = rate_limit_headers(decision)
                if not decision.allowed:
                    self._reject_rate(route, identity, principal, decision, headers)

        if principal is None:
            raise unauthorized(str(failure), headers)
        if not self._auth.has_role(principal, role):
            logger.info(
                "key %s (%s) lacks role %r for %s", principal.identity, principal.label, role, route
            )
            raise ApiError(
                403,
                "forbidden",
                f"this API key has role {principal.role!r}; route {route!r} needs role {role!r}",
                headers=headers,
            )
        return principal, headers

    def _reject_rate(
        self,
        route: str,
        identity: str,
        principal: Principal | None,
        decision: RateLimitDecision,
        headers: Headers,
    ) -> None:
        seconds = retry_seconds(decision.retry_after)
        caller = f"key {principal.identity} ({principal.label})" if principal else identity
        logger.info("rate limit of %s exceeded by %s; retry after %d s", route, caller, seconds)
        raise ApiError(
            429,
            "rate_limited",
            f"rate limit of {decision.limit} requests exceeded for route {route!r}; "
            f"retry after {seconds} s",
            headers=headers,
            retry_after=seconds,
        )

    def _require_loopback(self, scope: dict) -> None:
        # Defense in depth for servers started outside 'clstock serve', which
        # refuses a non-loopback address itself in the development profile.
        server = scope.get("server")
        host = str(server[0]) if server else ""
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = host == "localhost"
        if not loopback:
            raise ApiError(
                503,
                "development_profile",
                "this server runs the development profile, which serves loopback clients only",
            )


def _authorization(scope: dict) -> bytes | None:
    """Return the Authorization header, or raise AuthError when there are several."""
    found: bytes | None = None
    for name, value in scope["headers"]:
        if name == b"authorization":
            if found is not None:
                raise AuthError("several Authorization headers: send exactly one")
            found = value
    return found
