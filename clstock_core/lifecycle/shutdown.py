"""Run registered shutdown handlers once, newest first, each with a timeout."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 10.0


@dataclass
class _Handler:
    name: str
    callback: Callable[[], object]
    timeout: float


class ShutdownManager:
    """Collects cleanup callbacks and runs each exactly once at shutdown.

    Handlers run in reverse order of registration, like nested ``with``
    blocks, so a component is closed before what it depends on. A handler
    that raises is logged with its name; one that runs past its timeout is
    abandoned in a daemon thread. Neither stops the remaining handlers.
    """

    def __init__(self) -> None:
        self._handlers: list[_Handler] = []
        self._lock = threading.Lock()
        self._done = False
        self._finished = threading.Event()

    @property
    def has_run(self) -> bool:
        """Whether :meth:`run` has started; later registrations are rejected."""
        return self._done

    def wait(self, timeout: float | None = None) -> bool:
        """Block until a :meth:`run` in another thread has finished; return whether it has."""
        return self._finished.wait(timeout)

    def register(
        self, name: str, callback: Callable[[], object], *, timeout: float = DEFAULT_TIMEOUT
    ) -> Callable[[], None]:
        """Add a handler and return a function that removes it again.

        ``timeout`` is in seconds. Raises RuntimeError once :meth:`run` has
        started, because the new handler would never run.
        """
        if not timeout > 0:
            raise ValueError(
                f"shutdown handler {name!r}: timeout must be positive, got {timeout!r}"
            )
        handler = _Handler(name, callback, timeout)
        with self._lock:
            if self._done:
                raise RuntimeError(
                    f"cannot register shutdown handler {name!r}: shutdown already ran"
                )
            self._handlers.append(handler)

        def unregister() -> None:
            with self._lock:
                if handler in self._handlers:
                    self._handlers.remove(handler)

        return unregister

    def run(self) -> list[str]:
        """Run every handler once; return the names of those that failed or timed out.

        Only the first call runs the handlers. A later or concurrent call
        returns an empty list at once; use :meth:`wait` to block until the
        first call has finished.
        """
        with self._lock:
            if self._done:
                return []
            self._done = True
            handlers = list(reversed(self._handlers))
            self._handlers.clear()

        logger.debug("running %d shutdown handler(s)", len(handlers))
        failed = []
        try:
            for handler in handlers:
                if not self._run_one(handler):
                    failed.append(handler.name)
        finally:
            self._finished.set()
        return failed

    def _run_one(self, handler: _Handler) -> bool:
        outcome: list[BaseException | None] = []

        def target() -> None:
            try:
                handler.callback()
            # A shutdown handler from any plugin may raise anything; it is
            # logged below and must not keep the others from running.
            except BaseException as error:  # noqa: BLE001
                outcome.append(error)
            else:
                outcome.append(None)

        started = time.monotonic()
        thread = threading.Thread(target=target, name=f"shutdown:{handler.name}", daemon=True)
        thread.start()
        thread.join(handler.timeout)

        if thread.is_alive():
            logger.error(
                "shutdown handler %r did not finish within %.1f s; continuing without it",
                handler.name,
                handler.timeout,
            )
            return False
        error = outcome[0] if outcome else None
        if error is not None:
            logger.error(
                "shutdown handler %r failed: %s: %s", handler.name, type(error).__name__, error
            )
            return False
        logger.debug("shutdown handler %r done in %.3f s", handler.name, time.monotonic() - started)
        return True
