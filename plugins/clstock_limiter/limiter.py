"""The ``limiter`` rate limiter: one GCRA bucket per route, kept in process memory."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import limits

from clstock_core.roles import RateLimitDecision
from clstock_limiter.gcra import GcraBucket
from clstock_limiter.settings import NO_LIMIT, LimiterSettings

logger = logging.getLogger(__name__)


class Limiter:
    """Counts requests per route and client identity.

    The counters live in this process. A server with several worker
    processes therefore gives each worker its own allowance, and
    :attr:`per_process` reports that to the front-end so it can warn.
    """

    #: Counters are not shared between processes.
    per_process = True

    def __init__(
        self,
        settings: LimiterSettings,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self._buckets: dict[str, GcraBucket] = {}
        for route, text in settings.routes.items():
            if text.strip().lower() == NO_LIMIT:
                continue
            # The limits package only parses the "50/minute" notation here;
            # counting is done by GcraBucket (see clstock_limiter.gcra).
            item = limits.parse(text)
            self._buckets[route] = GcraBucket(
                item.amount,
                float(item.get_expiry()),
                clock=clock,
                max_clients=settings.max_clients,
                name=route,
            )
        logger.debug(
            "rate limits: %s",
            ", ".join(f"{route}={b.limit}/{b.period:g}s" for route, b in self._buckets.items())
            or "none",
        )

    @classmethod
    def from_settings(cls, settings: LimiterSettings, app: object = None) -> Limiter:
        return cls(settings)

    def limit_of(self, route: str) -> GcraBucket | None:
        return self._buckets.get(route)

    def hit(self, route: str, identity: str) -> RateLimitDecision | None:
        """Record one request; return None when ``route`` has no limit."""
        bucket = self._buckets.get(route)
        if bucket is None:
            return None
        return bucket.hit(identity)
