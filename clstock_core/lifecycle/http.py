"""``requests`` sessions with pooling, timeouts and bounded retries.

Data-source plugins that speak HTTP build their session here so every
source behaves the same under network trouble:

- connect and read timeouts apply to every request that sets none;
- connection errors, 429 and 5xx responses are retried a bounded number of
  times with exponential backoff and jitter, honouring ``Retry-After``;
- POST, PATCH and other non-idempotent requests are retried only after a
  429, because then the server states that it did not process the request;
- a ``Retry-After`` longer than ``max_retry_after`` is not waited for: the
  429 or 503 response is returned, so the caller can fall back (e.g. to
  cached data) instead of blocking.

yfinance builds its own session type; do not pass it one of these.
"""

from __future__ import annotations

import logging
import random
from importlib.metadata import PackageNotFoundError, version
from itertools import takewhile
from typing import TYPE_CHECKING, Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import InvalidHeader, MaxRetryError, ResponseError
from urllib3.util.retry import Retry

if TYPE_CHECKING:
    from urllib3.response import BaseHTTPResponse

    from clstock_core.lifecycle.shutdown import ShutdownManager

logger = logging.getLogger(__name__)

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})

DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_READ_TIMEOUT = 30.0


class BoundedRetry(Retry):
    """urllib3's Retry with the method rules and Retry-After limit described above.

    Written against urllib3 2.x, whose ``Retry.is_retry`` refuses every
    method outside ``allowed_methods`` (so a POST would never be retried
    after a 429) and whose ``retry_after_max`` shortens a long Retry-After
    wait instead of giving up.
    """

    def __init__(self, *args: Any, max_retry_after: float = 60.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_retry_after = max_retry_after

    def new(self, **kwargs: Any) -> BoundedRetry:
        retry = super().new(**kwargs)
        retry.max_retry_after = self.max_retry_after
        return retry

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        # A 429 means the server rejected the request without processing it,
        # so even a POST is safe to send again.
        if status_code == 429 and status_code in self.status_forcelist and self.total:
            return True
        return super().is_retry(method, status_code, has_retry_after)

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: BaseHTTPResponse | None = None,
        error: Exception | None = None,
        _pool: Any = None,
        _stacktrace: Any = None,
    ) -> BoundedRetry:
        if error is not None and (method is None or method.upper() not in IDEMPOTENT_METHODS):
            # The request may have reached the server before the error.
            raise MaxRetryError(_pool, url, error) from error  # type: ignore[arg-type]

        if response is not None and response.status in self.status_forcelist:
            wait = self.get_retry_after(response) if self.respect_retry_after_header else None
            if wait is not None and wait > self.max_retry_after:
                reason = ResponseError(
                    f"Retry-After of {wait:g} s exceeds the {self.max_retry_after:g} s limit"
                )
                raise MaxRetryError(_pool, url, reason)

        return super().increment(method, url, response, error, _pool, _stacktrace)  # type: ignore[return-value]

    def get_retry_after(self, response: BaseHTTPResponse) -> float | None:
        try:
            return super().get_retry_after(response)
        except InvalidHeader:
            logger.debug(
                "ignoring invalid Retry-After header %r", response.headers.get("Retry-After")
            )
            return None

    def get_backoff_time(self) -> float:
        """Return about ``backoff_factor * 2**(n-1)`` seconds after the n-th consecutive error.

        Half the delay is fixed and half random ("equal jitter"), so clients
        that failed together spread out while still backing off.
        """
        errors = len(list(takewhile(lambda h: h.redirect_location is None, reversed(self.history))))
        if errors == 0 or self.backoff_factor <= 0:
            return 0.0
        delay = min(self.backoff_max, self.backoff_factor * 2 ** (errors - 1))
        return delay / 2 + random.uniform(0.0, delay / 2)


class TimeoutHTTPAdapter(HTTPAdapter):
    """An adapter that applies default timeouts to requests that set none."""

    def __init__(self, *, timeout: tuple[float, float], **kwargs: Any) -> None:
        self.timeout = timeout
        super().__init__(**kwargs)

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        return super().send(request, **kwargs)


class ManagedSession(requests.Session):
    """A session that removes its shutdown handler when closed early."""

    _unregister: Any = None

    def close(self) -> None:
        super().close()
        unregister, self._unregister = self._unregister, None
        if unregister is not None:
            unregister()


def create_retry(
    *,
    retries: int = 3,
    backoff_factor: float = 0.5,
    backoff_max: float = 30.0,
    max_retry_after: float = 60.0,
) -> BoundedRetry:
    """Build the retry policy of :func:`create_session`; times are in seconds."""
    return BoundedRetry(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        other=0,
        redirect=5,
        allowed_methods=IDEMPOTENT_METHODS,
        status_forcelist=RETRY_STATUSES,
        backoff_factor=backoff_factor,
        backoff_max=backoff_max,
        max_retry_after=max_retry_after,
        # Hand the last 429/5xx response to the caller, which can read its
        # status and Retry-After, instead of raising requests' RetryError.
        raise_on_status=False,
        respect_retry_after_header=True,
    )


def create_session(
    *,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    read_timeout: float = DEFAULT_READ_TIMEOUT,
    retries: int = 3,
    backoff_factor: float = 0.5,
    backoff_max: float = 30.0,
    max_retry_after: float = 60.0,
    pool_connections: int = 4,
    pool_maxsize: int = 10,
    user_agent: str | None = None,
    shutdown: ShutdownManager | None = None,
    name: str = "http-session",
) -> requests.Session:
    """Build a pooled session with timeouts and retries; times are in seconds.

    ``retries`` bounds the retries of one request (0 disables them). With
    ``shutdown``, the session is closed by the shutdown manager unless it
    was closed before.
    """
    session = ManagedSession()
    retry = create_retry(
        retries=retries,
        backoff_factor=backoff_factor,
        backoff_max=backoff_max,
        max_retry_after=max_retry_after,
    )
    adapter = TimeoutHTTPAdapter(
        timeout=(connect_timeout, read_timeout),
        max_retries=retry,
        pool_connections=pool_connections,
        pool_maxsize=pool_maxsize,
    )
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = user_agent or _default_user_agent()

    if shutdown is not None:
        session._unregister = shutdown.register(name, session.close)
    return session


def _default_user_agent() -> str:
    try:
        return f"clstock/{version('clstock')} {requests.utils.default_user_agent()}"
    except PackageNotFoundError:
        return f"clstock {requests.utils.default_user_agent()}"
