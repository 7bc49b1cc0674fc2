"""Run registered shutdown handlers once, newest first, each with a timeout."""

from __future__ import annotations

import logging
import threading
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

    @property
    def has_run(self) -> bool:
        return self._done

    def register(
        self, name: str, callback: Callable[[], object], *, timeout: float = DEFAULT_TIMEOUT
    ) -> Callable[[], None]:
        """Add a handler and return a function that removes it again."""
        handler = _Handler(name, callback, timeout)
        with self._lock:
            if self._done:
                raise RuntimeError(f"cannot register shutdown handler {name!r}: shutdown already ran")
            self._handlers.append(handler)

        def unregister() -> None:
            with self._lock:
                if handler in self._handlers:
                    self._handlers.remove(handler)

        return unregister

    def run(self) -> list[str]:
        """Run every handler once; return the names of those that failed or timed out."""
        with self._lock:
            if self._done:
                return []
            self._done = True
            handlers = list(reversed(self._handlers))
            self._handlers.clear()

        failed = []
        for handler in handlers:
            if not self._run_one(handler):
                failed.append(handler.name)
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
        logger.debug("shutdown handler %r done", handler.name)
        return True
