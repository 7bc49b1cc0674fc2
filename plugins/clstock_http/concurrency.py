"""Run engine work in threads, and compute each result once for concurrent callers."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar

import anyio
import anyio.to_thread

logger = logging.getLogger(__name__)

T = TypeVar("T")


class EngineRunner:
    """Runs blocking engine calls in a bounded pool of worker threads.

    The event loop keeps serving cached responses while a ranking is
    computed. :meth:`drain` waits for running calls at shutdown, so the
    application is not closed under a thread that still uses it.
    """

    def __init__(self, threads: int) -> None:
        self._limiter = anyio.CapacityLimiter(threads)
        self._running = 0
        self._idle = asyncio.Event()
        self._idle.set()

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        self._running += 1
        self._idle.clear()
        try:
            return await anyio.to_thread.run_sync(function, *args, limiter=self._limiter)
        finally:
            self._running -= 1
            if self._running == 0:
                self._idle.set()

    async def drain(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for running calls; return whether all finished."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True


class SingleFlight:
    """Shares one running computation among every caller that asks for the same key.

    The computation runs as its own task, shielded from the callers: a client
    that disconnects does not cancel the work others are waiting for.
    """

    def __init__(self) -> None:
        self._tasks: dict[Hashable, asyncio.Task[Any]] = {}

    def running(self, key: Hashable) -> bool:
        return key in self._tasks

    def start(self, key: Hashable, compute: Callable[[], Awaitable[T]]) -> asyncio.Task[T]:
        """Return the task computing ``key``, starting it if none runs."""
        task = self._tasks.get(key)
        if task is None:
            task = asyncio.ensure_future(compute())
            self._tasks[key] = task
            task.add_done_callback(lambda done: self._finished(key, done))
        return task

    async def run(self, key: Hashable, compute: Callable[[], Awaitable[T]]) -> T:
        return await asyncio.shield(self.start(key, compute))

    def _finished(self, key: Hashable, task: asyncio.Task[Any]) -> None:
        self._tasks.pop(key, None)
        # Retrieve the exception so asyncio does not log "never retrieved"
        # when every caller went away; callers still awaiting get it raised.
        if not task.cancelled():
            task.exception()

    def cancel_all(self) -> None:
        for task in list(self._tasks.values()):
            task.cancel()
