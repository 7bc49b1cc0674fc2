"""An ASGI lifespan that ties a server's startup and shutdown to the application."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from clstock_core.app import Application
    from clstock_core.lifecycle.signals import ServerSignals

logger = logging.getLogger(__name__)


def application_lifespan(
    app: Application, signals: ServerSignals | None = None
) -> Callable[[Any], AbstractAsyncContextManager[None]]:
    """Return a Starlette ``lifespan`` that runs the shutdown handlers once when the server stops.

    Startup removes temp files of crashed runs and, with ``signals`` from
    :func:`~clstock_core.lifecycle.signals.server_signals`, marks the server
    as serving. Shutdown, which uvicorn runs after in-flight requests have
    finished or its graceful-shutdown timeout has passed, calls
    ``app.close()`` in a worker thread so the event loop is not blocked
    while handlers run.
    """

    @asynccontextmanager
    async def lifespan(_asgi_app: Any) -> AsyncIterator[None]:
        app.tempfiles.cleanup_stale()
        if signals is not None:
            signals.serving()
        logger.debug("application started")
        try:
            yield
        finally:
            logger.info("server stopping: running shutdown handlers")
            await asyncio.to_thread(app.close)

    return lifespan
