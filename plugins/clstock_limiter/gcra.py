"""A per-client rate limit with the generic cell rate algorithm (GCRA).

GCRA is a token bucket that stores one number per client, the theoretical
arrival time (TAT) of its next request. A limit of ``L`` requests per ``P``
seconds lets a client send ``L`` requests at once, then one more every
``P / L`` seconds. Unlike a fixed window, there is no boundary at which a
client may send ``L`` requests just before and ``L`` more just after. Any
interval of ``t`` seconds admits at most ``L + L * t / P`` requests.

Why not the ``limits`` package (checked against limits 5.8): its in-memory
storage reads ``time.time()`` directly, so tests cannot drive it with an
injected clock. Its expiry timer also rescans every key every 10 ms. Its
moving window keeps one entry per request, so memory grows with limit times
clients. This module keeps one float per client that sent a request within
the last period, and never more than ``max_clients`` of them.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import OrderedDict
from collections.abc import Callable

from clstock_core.roles import RateLimitDecision

logger = logging.getLogger(__name__)

#: Absorbs float rounding in ``tat - now`` comparisons (well below a microsecond).
_EPSILON = 1e-7
#: Expired entries removed per request, so cleanup keeps pace with inserts.
_SWEEP_PER_HIT = 2
#: Seconds between two warnings about evicted clients.
_EVICTION_WARNING_INTERVAL = 60.0


class GcraBucket:
    """The GCRA state of one limit (one route) for every client identity."""

    def __init__(
        self,
        limit: int,
        period: float,
        *,
        clock: Callable[[], float],
        max_clients: int,
        name: str = "",
    ) -> None:
        if limit < 1 or period <= 0:
            raise ValueError(f"invalid rate limit {limit} per {period} s: both must be positive")
        self.limit = limit
        self.period = period
        self.interval = period / limit
        self.name = name
        self._clock = clock
        self._max_clients = max_clients
        # Ordered by last accepted request, oldest first, so the front
        # contains the entries most likely to have expired.
        self._tats: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()
        self._evicted = 0
        self._last_eviction_warning = -math.inf

    def __len__(self) -> int:
        return len(self._tats)

    def hit(self, identity: str) -> RateLimitDecision:
        """Count one request by ``identity`` and return whether it may proceed."""
        with self._lock:
            now = self._clock()
            tats = self._tats
            tat = tats.get(identity, now)
            if tat < now:
                tat = now
            new_tat = tat + self.interval
            allowed = new_tat - now <= self.period + _EPSILON
            if allowed:
                tats[identity] = new_tat
                tats.move_to_end(identity)
            self._sweep(now)

        if not allowed:
            return RateLimitDecision(
                allowed=False,
                limit=self.limit,
                remaining=0,
                reset_after=tat - now,
                retry_after=new_tat - self.period - now,
            )
        remaining = math.floor((self.period - (new_tat - now)) / self.interval + _EPSILON)
        return RateLimitDecision(
            allowed=True, limit=self.limit, remaining=remaining, reset_after=new_tat - now
        )

    def _sweep(self, now: float) -> None:
        """Drop expired entries from the front, then the oldest ones beyond ``max_clients``.

        An expired entry (``tat <= now``) means the same as no entry. Every
        entry expires at most one period after its last accepted request, and
        the front contains the oldest ones. Each accepted request adds at most
        one entry and every request removes up to two expired ones, so expired
        entries do not pile up while requests arrive, and ``max_clients``
        caps the rest.
        """
        tats = self._tats
        for _ in range(_SWEEP_PER_HIT):
            oldest = next(iter(tats), None)
            if oldest is None or tats[oldest] > now:
                break
            del tats[oldest]

        if len(tats) > self._max_clients:
            self._evict()
        if self._evicted and now - self._last_eviction_warning >= _EVICTION_WARNING_INTERVAL:
            logger.warning(
                "rate limit %r: %d active client(s) evicted to stay within max_clients=%d; "
                "evicted clients start with a full allowance",
                self.name,
                self._evicted,
                self._max_clients,
            )
            self._evicted = 0
            self._last_eviction_warning = now

    def _evict(self) -> None:
        tats = self._tats
        while len(tats) > self._max_clients:
            tats.popitem(last=False)
            self._evicted += 1
