"""SIGINT and SIGTERM handling for batch commands and servers.

Batch commands (``clstock recommend``, training, evaluation) wrap their work
in :func:`batch_signals`. The first signal only sets the application's
:class:`Cancellation`, which the work checks between batches. The work then
stops, partial results are dropped, the shutdown handlers run, and the
command exits with 130 (SIGINT) or 143 (SIGTERM). A second signal exits at
once.

Servers run under uvicorn, which installs its own handlers while it serves
and, after a graceful stop, raises the captured signal again so that the
previous handler receives it. :func:`server_signals` supplies that previous
handler so the re-raised SIGTERM ends ``clstock serve`` with exit code 0
instead of killing the process.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING

from clstock_core.errors import ShutdownRequested

if TYPE_CHECKING:
    from clstock_core.app import Application

logger = logging.getLogger(__name__)

#: Shell convention: 128 plus the signal number.
EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}
HANDLED_SIGNALS = tuple(EXIT_CODES)


class Cancellation(threading.Event):
    """An event that stops batch work, and the signal that set it."""

    def __init__(self) -> None:
        super().__init__()
        self.signal_name = "cancel request"
        self.exit_code = 1

    def request(self, signal_name: str, exit_code: int) -> None:
        """Ask running work to stop; the first reason given is kept."""
        if not self.is_set():
            self.signal_name = signal_name
            self.exit_code = exit_code
        self.set()

    def error(self) -> ShutdownRequested:
        """Return a new :class:`ShutdownRequested` describing the request."""
        return ShutdownRequested(self.signal_name, self.exit_code)

    def raise_if_set(self) -> None:
        """Raise :class:`ShutdownRequested` when a stop was requested."""
        if self.is_set():
            raise self.error()


class BatchSignals:
    """The state :func:`batch_signals` yields to the work it wraps."""

    def __init__(self, cancel: Cancellation) -> None:
        self.cancel = cancel

    @property
    def requested(self) -> bool:
        """Whether a signal asked the work to stop."""
        return self.cancel.is_set()

    def check(self) -> None:
        """Raise :class:`ShutdownRequested` when a signal asked the work to stop."""
        self.cancel.raise_if_set()

    def handle(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        code = EXIT_CODES.get(signal.Signals(signum), 128 + signum)
        if self.cancel.is_set():
            # os.write and os._exit are safe in a signal handler; the
            # buffered stderr stream may be in the middle of a write.
            os.write(2, f"clstock: second {name}, exiting immediately\n".encode())
            os._exit(code)
        # Only record the request here: logging or printing from a signal
        # handler can re-enter a buffered stream that the main thread holds.
        self.cancel.request(name, code)


@contextmanager
def batch_signals(app: Application) -> Iterator[BatchSignals]:
    """Stop the wrapped batch work cleanly on SIGINT or SIGTERM.

    On entry it removes temp files of crashed runs and installs the signal
    handlers. The first signal sets ``app.cancel``; the work stops at its
    next check (:meth:`BatchSignals.check`, or the engine between batches).
    On leaving after a signal, any result of the block is discarded, the
    application's shutdown handlers run while a second signal still forces
    an immediate exit, and :class:`ShutdownRequested` carries the exit code
    (130 for SIGINT, 143 for SIGTERM) to the command line.

    Outside the main thread, where Python cannot install signal handlers,
    the block runs without them.
    """
    app.tempfiles.cleanup_stale()
    state = BatchSignals(app.cancel)
    if threading.current_thread() is not threading.main_thread():
        logger.debug("not in the main thread; running without SIGINT/SIGTERM handling")
        yield state
        return

    previous = {sig: signal.signal(sig, state.handle) for sig in HANDLED_SIGNALS}
    try:
        try:
            yield state
        # Whatever the block raised after a signal, the stop request is what
        # the user is shown. The original error is kept as the cause.
        except Exception as error:
            if not state.requested:
                raise
            logger.debug("work stopped by %s raised %r", state.cancel.signal_name, error)
            raise state.cancel.error() from error
        state.check()
    except ShutdownRequested:
        logger.info(
            "%s received: discarding partial results and shutting down", state.cancel.signal_name
        )
        app.close()
        raise
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class ServerSignals:
    """The state :func:`server_signals` yields around a server run."""

    def __init__(self) -> None:
        self.received: str | None = None
        self._serving = False

    def serving(self) -> None:
        """Mark that the server has installed its own handlers and started.

        Call it from the server's startup (e.g. the ASGI lifespan). Before
        that, a signal raises :class:`ShutdownRequested` so startup stops.
        """
        self._serving = True

    def handle(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if not self._serving:
            raise ShutdownRequested(name, EXIT_CODES.get(signal.Signals(signum), 128 + signum))
        # uvicorn re-raises the signal that stopped it after its graceful
        # shutdown; that shutdown is complete, so only note the signal.
        self.received = name


@contextmanager
def server_signals() -> Iterator[ServerSignals]:
    """Install the SIGINT/SIGTERM handlers that a server such as uvicorn restores.

    uvicorn (0.29 and later, ``Server.capture_signals``) replaces the
    handlers while it serves, shuts down gracefully on a signal, restores
    the previous handlers and then raises the captured signal again. With
    the default handler that re-raise would kill the process with SIGTERM
    after a clean shutdown. Inside this block the re-raised signal is only
    recorded in ``received``, so the server command can return 0.
    """
    state = ServerSignals()
    if threading.current_thread() is not threading.main_thread():
        yield state
        return

    previous = {sig: signal.signal(sig, state.handle) for sig in HANDLED_SIGNALS}
    try:
        yield state
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
