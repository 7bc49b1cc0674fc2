"""Fetch a batch of symbols from a data source, retrying transient failures.

A failure is transient when its error has ``retryable = True``
(:class:`~clstock_core.errors.SourceUnavailableError` and its subclass
:class:`~clstock_core.errors.SourceRateLimitedError`). Only the symbols that
failed that way are fetched again, after an exponential backoff with jitter
or after the source's ``Retry-After``. A source that requests a longer wait
than ``max_delay`` is not waited for. Later batches skip it until that time
has passed, so the engine can serve cached data marked stale instead.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from clstock_core.errors import (
    ClStockError,
    DataFetchError,
    ShutdownRequested,
    SourceRateLimitedError,
)

if TYPE_CHECKING:
    import pandas as pd

    from clstock_core.config import EngineSettings

logger = logging.getLogger(__name__)


@dataclass
class RetryPolicy:
    """How often and how long to retry a data source; times are in seconds."""

    attempts: int = 3
    initial_delay: float = 1.0
    max_delay: float = 30.0
    #: Monotonic time before which the source asked not to be called again.
    not_before: float = 0.0

    @classmethod
    def from_settings(cls, settings: EngineSettings) -> RetryPolicy:
        return cls(
            attempts=settings.fetch_attempts,
            initial_delay=settings.retry_initial_delay,
            max_delay=settings.retry_max_delay,
        )

    def delay(self, attempt: int, error: ClStockError) -> float | None:
        """Seconds to wait after failed ``attempt`` (1-based), or None when not worth waiting."""
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:
            return float(retry_after) if retry_after <= self.max_delay else None
        base = min(self.max_delay, self.initial_delay * 2 ** (attempt - 1))
        # Half fixed, half random, so that clients that failed together spread out.
        return base / 2 + random.uniform(0.0, base / 2)

    def note_rate_limit(self, error: ClStockError) -> None:
        retry_after = getattr(error, "retry_after", None)
        if isinstance(error, SourceRateLimitedError) and retry_after:
            self.not_before = max(self.not_before, time.monotonic() + float(retry_after))


@dataclass
class FetchOutcome:
    """Histories fetched for a batch, and the last error of each symbol that failed."""

    histories: dict[str, pd.DataFrame] = field(default_factory=dict)
    failures: dict[str, ClStockError] = field(default_factory=dict)
    attempts: dict[str, int] = field(default_factory=dict)

    def reason(self, ticker: str) -> str:
        """Describe why ``ticker`` failed, with the number of attempts."""
        error = self.failures[ticker]
        tries = self.attempts.get(ticker, 1)
        return f"{error} (gave up after {tries} attempts)" if tries > 1 else str(error)


def fetch_with_retry(
    source: Any,
    symbols: Sequence[str],
    *,
    start: dt.date,
    policy: RetryPolicy,
    cancel: threading.Event,
) -> FetchOutcome:
    """Fetch ``symbols``, retrying those that failed transiently.

    Raises :class:`ShutdownRequested` when ``cancel`` is set while waiting.
    A symbol the source neither returned nor reported is in neither dict.
    """
    outcome = FetchOutcome()
    pending = list(symbols)
    for attempt in range(1, policy.attempts + 1):
        errors = _fetch_once(source, pending, start, policy, outcome, cancel)
        for ticker in pending:
            outcome.attempts[ticker] = attempt

        retry = {
            ticker: error for ticker, error in errors.items() if getattr(error, "retryable", False)
        }
        outcome.failures.update({t: e for t, e in errors.items() if t not in retry})
        wait = _next_wait(retry, attempt, policy, outcome)
        if wait is None:
            break

        pending = sorted(retry)
        first = retry[pending[0]]
        logger.warning(
            "fetching %d symbol(s) failed (attempt %d of %d): %s; retrying in %.1f s",
            len(pending),
            attempt,
            policy.attempts,
            first,
            wait,
        )
        if cancel.wait(wait):
            raise _shutdown_error(cancel)
    return outcome


def _fetch_once(
    source: Any,
    pending: list[str],
    start: dt.date,
    policy: RetryPolicy,
    outcome: FetchOutcome,
    cancel: threading.Event,
) -> dict[str, ClStockError]:
    """Call the source once; store what it returned and return the errors by symbol."""
    wait = policy.not_before - time.monotonic()
    if wait > policy.max_delay:
        # The source asked for a pause longer than a retry may wait: do not
        # call it before then.
        error = SourceRateLimitedError(
            f"the data source is rate limited for another {wait:.0f} s", retry_after=wait
        )
        return {ticker: error for ticker in pending}
    if wait > 0 and cancel.wait(wait):
        raise _shutdown_error(cancel)

    try:
        result = source.fetch(pending, start=start)
    except DataFetchError as error:
        policy.note_rate_limit(error)
        return {ticker: error for ticker in pending}

    errors = {}
    for ticker in pending:
        raw = result.histories.get(ticker)
        if raw is not None:
            outcome.histories[ticker] = raw
            outcome.failures.pop(ticker, None)
        elif ticker in result.failures:
            errors[ticker] = result.failures[ticker]
            policy.note_rate_limit(result.failures[ticker])
    return errors


def _next_wait(
    retry: dict[str, ClStockError], attempt: int, policy: RetryPolicy, outcome: FetchOutcome
) -> float | None:
    """Return the seconds to wait before retrying ``retry``, or None to stop.

    Symbols that will not be retried are moved to ``outcome.failures``.
    """
    if not retry:
        return None
    if attempt >= policy.attempts:
        outcome.failures.update(retry)
        return None

    waits = {ticker: policy.delay(attempt, error) for ticker, error in retry.items()}
    for ticker, wait in waits.items():
        if wait is None:
            outcome.failures[ticker] = retry.pop(ticker)
    if not retry:
        return None
    return max(wait for ticker, wait in waits.items() if ticker in retry)  # type: ignore[type-var]


def _shutdown_error(cancel: threading.Event) -> ShutdownRequested:
    error = getattr(cancel, "error", None)
    return error() if callable(error) else ShutdownRequested("cancel request", 1)
