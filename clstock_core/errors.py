"""The kernel's exception hierarchy.

Every error ClStock raises on purpose derives from :class:`ClStockError`, so a
front-end can turn any of them into a one-line message (CLI) or a JSON error
body (HTTP) without catching unrelated exceptions. Messages name the value
that failed and say what to do next.
"""

from __future__ import annotations


class ClStockError(Exception):
    """Base class of every error raised by ClStock and its plugins."""

    #: Stable machine-readable code, used in JSON error bodies.
    code = "clstock_error"


class ConfigError(ClStockError):
    """The configuration file or an override is invalid."""

    code = "config_error"


class PluginError(ClStockError):
    """A plugin failed to load, or two plugins registered the same name."""

    code = "plugin_error"


class InvalidSymbolError(ClStockError, ValueError):
    """A value is not a valid TSE code or Yahoo ticker."""

    code = "invalid_symbol"


class DataFetchError(ClStockError):
    """A data source could not deliver price history."""

    code = "data_fetch_error"

    #: Whether trying again later may succeed.
    retryable = False


class NoDataError(DataFetchError):
    """The source has no data for a symbol (unknown, delisted, or empty range)."""

    code = "no_data"

    def __init__(self, symbol: str, detail: str = "") -> None:
        self.symbol = symbol
        message = f"no data for {symbol}"
        if detail:
            message = f"{message}: {detail}"
        super().__init__(message)


class SourceUnavailableError(DataFetchError):
    """A network or server failure; retrying later may succeed."""

    code = "source_unavailable"
    retryable = True

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class SourceRateLimitedError(SourceUnavailableError):
    """The upstream source rejected the request for exceeding its rate limit."""

    code = "source_rate_limited"


class InsufficientHistoryError(ClStockError):
    """A symbol has too few bars for the indicators a predictor needs."""

    code = "insufficient_history"

    def __init__(self, symbol: str, bars: int, needed: int) -> None:
        self.symbol = symbol
        self.bars = bars
        self.needed = needed
        super().__init__(
            f"insufficient history for {symbol}: {bars} trading days, at least {needed} needed"
        )


class PredictionError(ClStockError):
    """A predictor could not score a symbol or the universe."""

    code = "prediction_error"


class CacheError(ClStockError):
    """A cache backend failed; callers treat this as a miss."""

    code = "cache_error"


class AuthError(ClStockError):
    """Missing or invalid credentials (HTTP 401)."""

    code = "unauthorized"


class PermissionDeniedError(AuthError):
    """Valid credentials without the role a route needs (HTTP 403)."""

    code = "forbidden"


class RateLimitExceeded(ClStockError):
    """A client went over its request limit (HTTP 429)."""

    code = "rate_limited"

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class LockTimeoutError(ClStockError, TimeoutError):
    """An inter-process file lock could not be taken in time."""

    code = "lock_timeout"

    def __init__(self, path: str, timeout: float, holder_pid: int | None = None) -> None:
        self.path = path
        self.timeout = timeout
        self.holder_pid = holder_pid
        holder = f"process {holder_pid}" if holder_pid is not None else "an unknown process"
        super().__init__(
            f"timed out after {timeout:g} s waiting for lock {path} held by {holder}; "
            f"wait for that process to finish, or stop it if it hangs"
        )


class ShutdownRequested(ClStockError):
    """Raised inside batch work after SIGINT or SIGTERM asked it to stop."""

    code = "shutdown_requested"

    def __init__(self, signal_name: str, exit_code: int) -> None:
        self.signal_name = signal_name
        self.exit_code = exit_code
        super().__init__(f"stopped by {signal_name}")
