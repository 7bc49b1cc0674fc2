"""Context managers for resources that must be released: anything, HTTP sessions, file locks."""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import requests

from clstock_core.errors import LockTimeoutError
from clstock_core.lifecycle.http import create_session
from clstock_core.lifecycle.shutdown import DEFAULT_TIMEOUT, ShutdownManager

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: Polling interval bounds while waiting for a file lock, in seconds.
_LOCK_POLL_MIN = 0.001
_LOCK_POLL_MAX = 0.05


class _Once:
    """Calls a cleanup function at most once, from whichever thread gets there first."""

    def __init__(self, cleanup: Callable[[], object]) -> None:
        self._cleanup = cleanup
        self._lock = threading.Lock()
        self._done = False

    def __call__(self) -> None:
        with self._lock:
            if self._done:
                return
            self._done = True
        self._cleanup()


@contextmanager
def managed_resource(
    factory: Callable[[], T],
    cleanup: Callable[[T], object],
    *,
    shutdown: ShutdownManager,
    name: str = "resource",
    timeout: float = DEFAULT_TIMEOUT,
) -> Iterator[T]:
    """Create a resource with ``factory()`` and always release it with ``cleanup(resource)``.

    While the block runs, the cleanup is also registered with ``shutdown``
    under ``name``, so a shutdown that starts before the block ends (a
    server stopping with a request still open) releases it too. The cleanup
    runs exactly once either way. When both the block and the cleanup
    raise, the block's error propagates and the cleanup's is logged.
    """
    resource = factory()
    release = _Once(lambda: cleanup(resource))
    try:
        unregister = shutdown.register(name, release, timeout=timeout)
    except RuntimeError:
        release()
        raise

    try:
        yield resource
    except BaseException:
        unregister()
        _release_after_error(release, name)
        raise
    unregister()
    release()


def _release_after_error(release: _Once, name: str) -> None:
    try:
        release()
    # The block's own error is the one to report; a cleanup that also fails
    # is logged here so it is not lost.
    except Exception as error:  # noqa: BLE001
        logger.error("cleanup of %s failed: %s: %s", name, type(error).__name__, error)


@contextmanager
def network_connection(
    *, shutdown: ShutdownManager, name: str = "http-session", **session_options: Any
) -> Iterator[requests.Session]:
    """Yield a session from :func:`~clstock_core.lifecycle.http.create_session`, closed on exit.

    ``session_options`` are the keyword arguments of ``create_session``
    (timeouts, retries, pool sizes, user agent).
    """
    with managed_resource(
        lambda: create_session(**session_options),
        lambda session: session.close(),
        shutdown=shutdown,
        name=name,
    ) as session:
        yield session


@contextmanager
def file_lock(path: str | Path, timeout: float = 10.0, *, unlink: bool = False) -> Iterator[Path]:
    """Hold an exclusive inter-process lock on the lock file ``path``.

    The lock is an ``flock`` on ``path``, which records the holder's pid so
    that :class:`~clstock_core.errors.LockTimeoutError` can name it after
    ``timeout`` seconds. With ``unlink`` the lock file is removed on release,
    which keeps a directory of per-key locks from growing; waiters detect
    the removal and lock the new file instead. The lock is released when the
    process dies, so a crashed holder never blocks the others.
    """
    path = Path(path)
    descriptor = _acquire(path, timeout)
    try:
        yield path
    finally:
        _release(descriptor, path, unlink)


def _acquire(path: Path, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    delay = _LOCK_POLL_MIN
    while True:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise LockTimeoutError(str(path), timeout, _holder_pid(path)) from None
            time.sleep(min(delay, remaining))
            delay = min(delay * 2, _LOCK_POLL_MAX)
            continue
        except OSError:
            os.close(descriptor)
            raise

        if _still_linked(descriptor, path):
            os.ftruncate(descriptor, 0)
            os.pwrite(descriptor, f"{os.getpid()}\n".encode(), 0)
            return descriptor
        # The previous holder removed the file before unlocking it, so this
        # lock guards nothing: start over on the file now at ``path``.
        os.close(descriptor)


def _still_linked(descriptor: int, path: Path) -> bool:
    try:
        current = os.stat(path)
    except FileNotFoundError:
        return False
    locked = os.fstat(descriptor)
    return (current.st_dev, current.st_ino) == (locked.st_dev, locked.st_ino)


def _release(descriptor: int, path: Path, unlink: bool) -> None:
    try:
        if unlink:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
        else:
            os.ftruncate(descriptor, 0)
    finally:
        os.close(descriptor)


def _holder_pid(path: Path) -> int | None:
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None
