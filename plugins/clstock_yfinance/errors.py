"""Map yfinance and network exceptions onto the kernel's data-fetch errors.

yfinance 1.7 raises ``YFRateLimitError`` on HTTP 429, a
``YFTickerMissingError`` subclass (``YFTzMissingError``,
``YFPricesMissingError``) when Yahoo has no prices for a ticker, and lets
the HTTP client's errors through: ``curl_cffi.requests.exceptions`` by
default, ``requests.exceptions`` when curl_cffi is unavailable. Both
clients' exception classes derive from :class:`OSError`, as do
:class:`TimeoutError` and :class:`ConnectionError`.
"""

from __future__ import annotations

from yfinance.exceptions import (
    YFDataException,
    YFException,
    YFRateLimitError,
    YFTickerMissingError,
)

from clstock_core.errors import (
    DataFetchError,
    NoDataError,
    SourceRateLimitedError,
    SourceUnavailableError,
)

try:
    from curl_cffi import CurlError
except ImportError:  # yfinance falls back to requests without curl_cffi
    NETWORK_ERRORS: tuple[type[Exception], ...] = (OSError,)
else:
    NETWORK_ERRORS = (OSError, CurlError)

#: Every exception this module maps; anything else is a bug in yfinance or here.
KNOWN_ERRORS: tuple[type[Exception], ...] = (YFException, *NETWORK_ERRORS)

_RATE_LIMIT_HINT = "retry in a few minutes, or lower [data_source.yfinance] threads and batch_size"


def map_error(error: BaseException, target: str) -> DataFetchError:
    """Return the kernel error for ``error``, raised while fetching ``target``.

    ``target`` is one ticker, or a description of a batch. A missing ticker
    maps to :class:`NoDataError`, a rate limit to
    :class:`SourceRateLimitedError` and a network or server failure to
    :class:`SourceUnavailableError`. The last two are retryable.
    """
    if isinstance(error, YFRateLimitError):
        return SourceRateLimitedError(
            f"Yahoo Finance rate limit exceeded while fetching {target}; {_RATE_LIMIT_HINT}"
        )
    if isinstance(error, YFTickerMissingError):
        return NoDataError(target, error.rationale)

    status = _http_status(error)
    if status == 404:
        return NoDataError(target, "Yahoo Finance returned HTTP 404 (unknown ticker)")
    if status == 429:
        return SourceRateLimitedError(
            f"Yahoo Finance returned HTTP 429 for {target}; {_RATE_LIMIT_HINT}"
        )
    if status is not None:
        return SourceUnavailableError(
            f"Yahoo Finance returned HTTP {status} for {target}; retry later"
        )

    if isinstance(error, NETWORK_ERRORS):
        return SourceUnavailableError(
            f"cannot reach Yahoo Finance for {target}: {type(error).__name__}: {error}; "
            f"check the network connection or raise [data_source.yfinance] timeout"
        )
    if isinstance(error, YFDataException):
        # yfinance raises it when Yahoo returns an outage page or JSON that
        # it cannot parse, and both are usually temporary.
        return SourceUnavailableError(
            f"Yahoo Finance sent an unusable response for {target}: {error}; retry later"
        )
    return DataFetchError(f"yfinance failed for {target}: {type(error).__name__}: {error}")


def _http_status(error: BaseException) -> int | None:
    """Return the HTTP status of an ``HTTPError`` from curl_cffi or requests."""
    response = getattr(error, "response", None)
    status = getattr(response, "status_code", None)
    return status if isinstance(status, int) and status >= 400 else None
