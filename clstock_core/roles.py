"""The interfaces each role's implementations follow.

These are structural (:class:`typing.Protocol`): a plugin needs no base
class, only these methods. Optional methods are noted.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import pandas as pd

    from clstock_core.errors import ClStockError
    from clstock_core.models import StockInfo
    from clstock_core.prices import PricePanel


@dataclass
class FetchResult:
    """Raw histories returned by a data source, with per-symbol failures.

    ``histories`` maps Yahoo tickers (``7203.T``) to frames with columns
    ``open, high, low, close, volume`` (``adj_close`` optional) and a
    date-like index, tz-aware or naive. The kernel normalizes them.
    """

    histories: dict[str, pd.DataFrame] = field(default_factory=dict)
    failures: dict[str, ClStockError] = field(default_factory=dict)


@runtime_checkable
class DataSource(Protocol):
    """Delivers daily OHLCV history and the list of stocks it covers.

    Optional methods:

    - ``version_tag(ticker) -> str``: a marker that changes when the
      stored history of ``ticker`` changes; the engine puts it in cache keys.
    - ``load_panel(symbols=None, *, start=None, end=None) -> PricePanel``:
      the normalized history of ``symbols`` (None: every stock the source
      has) in one vectorized pass, for whole-universe work such as
      training and benchmarks. Symbols without a valid bar are absent.
    """

    def list_stocks(self) -> list[StockInfo]:
        """Return the universe this source covers, with company names."""
        ...

    def fetch(
        self,
        symbols: Sequence[str],
        *,
        start: dt.date | None = None,
        end: dt.date | None = None,
    ) -> FetchResult:
        """Fetch daily bars for ``symbols`` (Yahoo tickers) between the dates.

        A symbol that fails goes into ``failures``; an error that affects the
        whole request (network down) may be raised as a
        :class:`~clstock_core.errors.DataFetchError`.
        """
        ...


@dataclass
class CacheStats:
    """Size and location of a cache, as ``clstock cache stats`` prints them."""

    backend: str
    location: str
    entries: int
    size_bytes: int
    max_size_bytes: int | None = None
    expired_entries: int | None = None


@runtime_checkable
class CacheBackend(Protocol):
    """Stores picklable values by string key, with a time to live.

    Optional methods, used by ``clstock cache``:

    - ``stats() -> CacheStats``: entry count, total size and location.
    - ``prune() -> int``: remove expired and unreadable entries and evict
      entries beyond the size limit; return how many were removed.
    """

    def get(self, key: str) -> Any | None:
        """Return the value, or None on a miss, expiry or unreadable entry."""
        ...

    def set(self, key: str, value: Any, ttl: float | None = None) -> None:
        """Store ``value``; a failure is logged and otherwise ignored."""
        ...

    def delete(self, key: str) -> None: ...

    def clear(self) -> int:
        """Remove every entry and return how many were removed."""
        ...


@dataclass
class Prediction:
    """Scores for a universe.

    ``scores`` is indexed by Yahoo ticker with float columns ``score``
    (0–100) and ``confidence`` (0–1), and optionally ``expected_return``
    (fraction over the holding period). ``rationale`` maps a ticker to the
    signals behind its score. ``failures`` maps a ticker the predictor could
    not serve to the reason.
    """

    scores: pd.DataFrame
    rationale: Mapping[str, list[str]] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)


@runtime_checkable
class Predictor(Protocol):
    """Scores every stock of a panel from 0 to 100."""

    name: str

    def predict(self, panel: PricePanel) -> Prediction:
        """Score the symbols of ``panel`` from its normalized history.

        Raise :class:`~clstock_core.errors.PredictionError` when the
        predictor cannot serve the panel at all (e.g. no trained model); the
        engine then falls back to the next predictor.
        """
        ...


@runtime_checkable
class TrainablePredictor(Predictor, Protocol):
    """A predictor that learns from history (optional extension of :class:`Predictor`).

    The walk-forward evaluation retrains such a predictor on past data only.
    """

    def trained_on(self, panel: PricePanel) -> Predictor:
        """Return a new predictor of the same kind trained only on ``panel``'s bars.

        Training targets that would need a bar after ``panel``'s last date
        must be left out. The returned predictor does not read or write any
        saved model.
        """
        ...


@dataclass(frozen=True)
class Principal:
    """An authenticated caller."""

    identity: str
    role: str
    label: str = ""


@runtime_checkable
class AuthProvider(Protocol):
    """Authenticates HTTP requests.

    Optional attribute: ``loopback_only: bool``, true when the provider
    accepts well-known credentials (a development profile); the HTTP
    front-end then serves loopback addresses only.
    """

    def authenticate(self, authorization: bytes | None) -> Principal:
        """Return the caller for the raw ``Authorization`` header value.

        Raise :class:`~clstock_core.errors.AuthError` for a missing, malformed
        or unknown credential.
        """
        ...

    def has_role(self, principal: Principal, required: str) -> bool:
        """Tell whether ``principal`` may use a route that needs ``required``."""
        ...


@dataclass(frozen=True)
class RateLimitDecision:
    """The outcome of one request against a limit."""

    allowed: bool
    limit: int
    remaining: int
    reset_after: float
    retry_after: float = 0.0


@runtime_checkable
class RateLimiter(Protocol):
    """Counts requests per route and client identity.

    Optional attribute: ``per_process: bool``, true when the counts live in
    one process's memory, so that each server worker counts on its own.
    """

    def hit(self, route: str, identity: str) -> RateLimitDecision | None:
        """Record one request; return None when ``route`` has no limit."""
        ...


@runtime_checkable
class Frontend(Protocol):
    """Serves the application, e.g. over HTTP."""

    def serve(self) -> int:
        """Run until stopped and return the process exit code."""
        ...
