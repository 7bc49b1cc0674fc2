"""A signed, crash-safe pickle cache in a directory of files.

Layout of the cache directory (mode 0700, files 0600)::

    <sha256(key) hex>.entry   one entry, see clstock_pickle.entry
    <sha256(key) hex>.lock    exists while a process writes or deletes that key
    .tmp-<pid>-<random>       an entry being written

A write pickles the value, signs it, writes it to a temp file in the same
directory, fsyncs it and renames it over the entry with ``os.replace``,
holding the key's lock. Readers take no lock: the rename is atomic, so they
see the old entry or the new one, never a partial one. An entry that fails
verification is deleted and reported as a miss; it is never unpickled.

Each entry file's modification time is its last use: a read that finds it
older than a minute sets it to now. When the total size passes the limit,
the least recently used entries are evicted down to 90 % of it.
"""

from __future__ import annotations

import logging
import os
import pickle
import re
import stat
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from platformdirs import user_cache_path

from clstock_core.errors import CacheError
from clstock_core.lifecycle.resources import file_lock
from clstock_core.lifecycle.tempfiles import process_running
from clstock_core.roles import CacheStats
from clstock_pickle.entry import (
    HEADER,
    OVERHEAD,
    PICKLE_PROTOCOL,
    Header,
    InvalidEntry,
    decode,
    encode,
    key_digest,
    read_header,
)
from clstock_pickle.secret import default_secret_path, load_or_create_secret
from clstock_pickle.settings import PickleCacheSettings

logger = logging.getLogger(__name__)

MIB = 1024 * 1024
ENTRY_SUFFIX = ".entry"
LOCK_SUFFIX = ".lock"
TEMP_PREFIX = ".tmp-"
_ENTRY_NAME = re.compile(r"^[0-9a-f]{64}\.entry$")
_LOCK_NAME = re.compile(r"^[0-9a-f]{64}\.lock$")
_TEMP_NAME = re.compile(r"^\.tmp-(?P<pid>[0-9]+)-")

#: A read refreshes an entry's last-use time only when it is older than
#: this, which saves a syscall on most hits at the cost of LRU precision.
TOUCH_INTERVAL = 60.0
#: Eviction removes entries until the total is at most this share of the limit.
EVICT_TO = 0.9
#: The size estimate is recomputed from the directory after this many writes,
#: so writes by other processes are counted too.
RESCAN_EVERY = 64
#: Removing a bad or evicted entry waits at most this long for its lock.
DISCARD_LOCK_TIMEOUT = 1.0
#: A temp file this old is a leftover even if its pid is in use again.
TEMP_MAX_AGE = 3600.0
#: Repeated read or write failures are logged as warnings this often, then at debug level.
WARNING_LIMIT = 5


@dataclass
class _EntryFile:
    path: Path
    info: os.stat_result


class PickleCache:
    """The ``pickle`` cache backend; see the module docstring for the format."""

    def __init__(
        self,
        directory: Path,
        secret_path: Path,
        *,
        max_size_bytes: int,
        default_ttl: float = 0.0,
        lock_timeout: float = 10.0,
    ) -> None:
        self.directory = directory
        self._directory_prefix = os.path.join(directory, "")
        self.secret_path = secret_path
        self.max_size_bytes = max_size_bytes
        self.default_ttl = default_ttl
        self.lock_timeout = lock_timeout
        self.hits = 0
        self.misses = 0

        self._size_lock = threading.Lock()
        self._estimated_size: int | None = None
        self._writes_since_scan = 0
        self._warnings: dict[str, int] = {}
        self._secret: bytes | None = None
        self.disabled_reason: str | None = None
        try:
            _prepare_directory(directory)
            self._secret = load_or_create_secret(secret_path)
        # A cache that cannot start must not fail the job: every lookup is a miss.
        except (OSError, CacheError) as error:
            self.disabled_reason = str(error)
            logger.error("pickle cache disabled, every lookup will miss: %s", error)

    @classmethod
    def from_settings(cls, settings: PickleCacheSettings, app: object = None) -> PickleCache:
        directory = settings.directory or user_cache_path("clstock") / "pickle"
        secret_path = settings.secret_file or default_secret_path()
        return cls(
            directory.expanduser(),
            secret_path.expanduser(),
            max_size_bytes=int(settings.max_size_mb * MIB),
            default_ttl=settings.default_ttl,
            lock_timeout=settings.lock_timeout,
        )

    # -- CacheBackend -------------------------------------------------------

    def get(self, key: str) -> Any | None:
        """Return the value stored under ``key``, or None on a miss, expiry or bad entry."""
        if self._secret is None:
            return None
        digest = key_digest(key)
        path = self._entry_path(digest)
        try:
            data, info = _read_entry_file(path)
        except FileNotFoundError:
            return self._miss()
        except OSError as error:
            self._warn("read", f"cannot read cache entry {path}: {error}")
            return self._miss()

        try:
            header, payload = decode(self._secret, digest, data)
        except InvalidEntry as error:
            self._limited_warning(
                "verify", f"cache entry {path} for key {key!r} is invalid ({error}); deleting it"
            )
            self._discard(path, info)
            return self._miss()
        if header.expired(time.time()):
            logger.debug("cache entry for key %r expired; deleting it", key)
            self._discard(path, info)
            return self._miss()

        try:
            value = pickle.loads(payload)
        # The entry passed the HMAC check, so this installation wrote it. It
        # may still refer to classes of another library version, and
        # unpickling runs their code, which can raise anything.
        except Exception as error:  # noqa: BLE001
            logger.warning(
                "cache entry for key %r cannot be unpickled (%s: %s); deleting it",
                key,
                type(error).__name__,
                error,
            )
            self._discard(path, info)
            return self._miss()
        self.hits += 1
        return value

    def set(self, key: str, value: Any, ttl: float | None = None) -> None:
        """Store ``value`` for ``ttl`` seconds (default: the configured TTL).

        A ``ttl`` of zero or less deletes the entry. A value that cannot be
        pickled or written is logged and not stored.
        """
        if self._secret is None:
            return
        if ttl is not None and ttl <= 0:
            self.delete(key)
            return
        ttl = self.default_ttl if ttl is None else ttl

        try:
            payload = pickle.dumps(value, protocol=PICKLE_PROTOCOL)
        except (pickle.PicklingError, TypeError, AttributeError, RecursionError) as error:
            self._warn("write", f"cannot pickle the value for cache key {key!r}: {error}")
            return
        size = OVERHEAD + len(payload)
        if size > self.max_size_bytes:
            self._warn(
                "write", f"value for cache key {key!r} has {size} bytes, more than the whole cache"
            )
            return

        now = time.time()
        digest = key_digest(key)
        header, tag = encode(
            self._secret, digest, payload, created=now, expires=now + ttl if ttl else 0.0
        )
        path = self._entry_path(digest)
        try:
            with file_lock(self._lock_path(path), self.lock_timeout, unlink=True):
                replaced = _size_or_zero(path)
                _write_atomic(path, (header, payload, tag))
        # LockTimeoutError is an OSError too; either way the value is not cached.
        except OSError as error:
            self._warn("write", f"cannot write cache entry {path}: {error}")
            return
        self._account(size - replaced)

    def delete(self, key: str) -> None:
        """Remove the entry for ``key`` if there is one."""
        if self.disabled_reason is not None:
            return
        path = self._entry_path(key_digest(key))
        try:
            with file_lock(self._lock_path(path), self.lock_timeout, unlink=True):
                removed = _size_or_zero(path)
                with suppress(FileNotFoundError):
                    os.unlink(path)
        except OSError as error:
            self._warn("write", f"cannot delete cache entry {path}: {error}")
            return
        self._account(-removed, write=False)

    def clear(self) -> int:
        """Remove every entry and leftover temp file; return how many entries were removed."""
        if self.disabled_reason is not None:
            return 0
        removed = 0
        for entry in self._entries():
            with suppress(FileNotFoundError):
                os.unlink(entry.path)
                removed += 1
        self._remove_leftovers()
        with self._size_lock:
            self._estimated_size = None
        logger.info("cleared %d cache entries from %s", removed, self.directory)
        return removed

    # -- maintenance ------------------------------------------------------

    def stats(self) -> CacheStats:
        """Count the entries, their total size and how many have expired."""
        entries = [] if self.disabled_reason is not None else self._entries()
        now = time.time()
        expired = 0
        for entry in entries:
            header = _peek_header(entry.path)
            if header is not None and header.expired(now):
                expired += 1
        location = str(self.directory)
        if self.disabled_reason is not None:
            location = f"{location} (disabled: {self.disabled_reason})"
        return CacheStats(
            backend="pickle",
            location=location,
            entries=len(entries),
            size_bytes=sum(entry.info.st_size for entry in entries),
            max_size_bytes=self.max_size_bytes,
            expired_entries=expired,
        )

    def prune(self) -> int:
        """Remove expired, malformed and over-limit entries, and leftover files.

        Returns how many entries were removed.
        """
        if self.disabled_reason is not None:
            return 0
        now = time.time()
        removed = 0
        for entry in self._entries():
            header = _peek_header(entry.path)
            valid = header is not None and entry.info.st_size == OVERHEAD + header.payload_size
            if (not valid or header.expired(now)) and self._discard(entry.path, entry.info):  # type: ignore[union-attr]
                removed += 1
        removed += self._evict()
        logger.info("pruned %d cache entries from %s", removed, self.directory)
        return removed

    def close(self) -> None:
        logger.debug("pickle cache: %d hits, %d misses", self.hits, self.misses)

    # -- internals ----------------------------------------------------------

    def _entry_path(self, digest: bytes) -> str:
        # A plain string: building a Path costs more than the rest of a lookup's bookkeeping.
        return f"{self._directory_prefix}{digest.hex()}{ENTRY_SUFFIX}"

    @staticmethod
    def _lock_path(entry_path: str | Path) -> str:
        return f"{os.fspath(entry_path)[: -len(ENTRY_SUFFIX)]}{LOCK_SUFFIX}"

    def _miss(self) -> None:
        self.misses += 1
        return None

    def _warn(self, operation: str, message: str) -> None:
        self._limited_warning(operation, f"{message}; continuing without the cache for it")

    def _limited_warning(self, operation: str, message: str) -> None:
        """Log ``message``, dropping to debug level after a few of the same operation.

        A changed secret or a damaged directory invalidates every entry at
        once, and one line per entry would bury the run's output.
        """
        count = self._warnings.get(operation, 0) + 1
        self._warnings[operation] = count
        if count < WARNING_LIMIT:
            logger.warning("%s", message)
        elif count == WARNING_LIMIT:
            logger.warning(
                "%s; further cache %s failures are logged at debug level", message, operation
            )
        else:
            logger.debug("%s", message)

    def _discard(self, path: str | Path, seen: os.stat_result) -> bool:
        """Delete the entry file ``seen`` unless another process replaced it meanwhile."""
        try:
            with file_lock(self._lock_path(path), DISCARD_LOCK_TIMEOUT, unlink=True):
                current = os.stat(path, follow_symlinks=False)
                if (current.st_dev, current.st_ino) != (seen.st_dev, seen.st_ino):
                    return False
                os.unlink(path)
        except FileNotFoundError:
            return False
        except OSError as error:
            logger.debug("cannot delete cache entry %s: %s", path, error)
            return False
        self._account(-seen.st_size, write=False)
        return True

    def _entries(self) -> list[_EntryFile]:
        entries = []
        for item in _scan(self.directory):
            if not _ENTRY_NAME.match(item.name):
                continue
            with suppress(FileNotFoundError):
                entries.append(_EntryFile(Path(item.path), item.stat(follow_symlinks=False)))
        return entries

    def _account(self, delta: int, *, write: bool = True) -> None:
        """Track the total size and evict when it passes the limit."""
        with self._size_lock:
            if write:
                self._writes_since_scan += 1
            rescan = self._estimated_size is None or self._writes_since_scan >= RESCAN_EVERY
            if not rescan:
                self._estimated_size = max(0, self._estimated_size + delta)  # type: ignore[operator]
            over = rescan or self._estimated_size > self.max_size_bytes  # type: ignore[operator]
        if over and write:
            self._evict()

    def _evict(self) -> int:
        """Remove least recently used entries until the total fits; return how many went.

        Temp files of crashed writers go too, since the directory is scanned anyway.
        """
        self._remove_leftovers()
        entries = self._entries()
        total = sum(entry.info.st_size for entry in entries)
        removed = 0
        if total > self.max_size_bytes:
            target = self.max_size_bytes * EVICT_TO
            for entry in sorted(entries, key=lambda e: e.info.st_mtime):
                if total <= target:
                    break
                if self._discard_quietly(entry):
                    total -= entry.info.st_size
                    removed += 1
            logger.info(
                "evicted %d least recently used cache entries from %s", removed, self.directory
            )
        with self._size_lock:
            self._estimated_size = total
            self._writes_since_scan = 0
        return removed

    def _discard_quietly(self, entry: _EntryFile) -> bool:
        # _evict recomputes the size itself, so skip _discard's accounting.
        try:
            with file_lock(self._lock_path(entry.path), DISCARD_LOCK_TIMEOUT, unlink=True):
                current = os.stat(entry.path, follow_symlinks=False)
                if (current.st_dev, current.st_ino) != (entry.info.st_dev, entry.info.st_ino):
                    return False
                os.unlink(entry.path)
        except OSError as error:
            logger.debug("cannot evict cache entry %s: %s", entry.path, error)
            return False
        return True

    def _remove_leftovers(self) -> None:
        """Remove temp files of dead writers and lock files that no process holds."""
        now = time.time()
        for item in _scan(self.directory):
            match = _TEMP_NAME.match(item.name)
            if match is not None:
                _remove_stale_temp(item, int(match.group("pid")), now)
            elif _LOCK_NAME.match(item.name):
                _remove_unheld_lock(Path(item.path))


def _prepare_directory(directory: Path) -> None:
    """Create the cache directory with mode 0700, or tighten an existing one we own."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = os.stat(directory)
    if info.st_uid != os.getuid():
        raise CacheError(
            f"cache directory {directory} belongs to user id {info.st_uid}, not to this user; "
            f"set [cache.pickle] directory to a directory of your own"
        )
    if stat.S_IMODE(info.st_mode) & 0o077:
        logger.info("restricting cache directory %s to mode 0700", directory)
        os.chmod(directory, 0o700)


def _read_entry_file(path: str) -> tuple[bytes, os.stat_result]:
    """Read a whole entry file with as few syscalls as possible, refreshing its last use."""
    descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        info = os.fstat(descriptor)
        data = os.read(descriptor, info.st_size)
        while len(data) < info.st_size:
            chunk = os.read(descriptor, info.st_size - len(data))
            if not chunk:
                break
            data += chunk
        if time.time() - info.st_mtime > TOUCH_INTERVAL:
            # Another user's file (e.g. read by root) cannot be touched; LRU
            # order is only a hint, so the read goes on.
            with suppress(PermissionError):
                os.utime(descriptor)
    finally:
        os.close(descriptor)
    return data, info


def _write_atomic(path: str, parts: Sequence[bytes]) -> None:
    """Write ``parts`` to a temp file beside ``path``, fsync it, and rename it over ``path``."""
    directory = os.path.dirname(path)
    descriptor, temp_name = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-", dir=directory)
    try:
        try:
            _write_all(descriptor, parts)
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        # NOTE: the directory is not fsynced, so a power failure may undo the
        # rename. The old entry (or none) is found then, never a partial one.
        os.replace(temp_name, path)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise


def _write_all(descriptor: int, parts: Sequence[bytes]) -> None:
    views = [memoryview(part) for part in parts if len(part)]
    while views:
        written = os.writev(descriptor, views)
        while views and written >= len(views[0]):
            written -= len(views[0])
            views.pop(0)
        if views and written:
            views[0] = views[0][written:]


def _size_or_zero(path: str) -> int:
    try:
        return os.stat(path, follow_symlinks=False).st_size
    except FileNotFoundError:
        return 0


def _peek_header(path: Path) -> Header | None:
    """Return the header of an entry file without verifying it, or None when unreadable."""
    try:
        with open(path, "rb") as handle:
            return read_header(handle.read(HEADER.size))
    except (OSError, InvalidEntry):
        return None


def _scan(directory: Path) -> Iterator[os.DirEntry[str]]:
    try:
        with os.scandir(directory) as items:
            yield from items
    except FileNotFoundError:
        return


def _remove_stale_temp(item: os.DirEntry[str], pid: int, now: float) -> None:
    try:
        age = now - item.stat(follow_symlinks=False).st_mtime
    except FileNotFoundError:
        return
    if process_running(pid) and age < TEMP_MAX_AGE:
        return
    with suppress(FileNotFoundError):
        os.unlink(item.path)
        logger.debug("removed temp file %s of a finished writer", item.path)


def _remove_unheld_lock(path: Path) -> None:
    # Taking the lock without waiting proves that no process holds it, and
    # file_lock's unlink keeps the removal safe for processes about to lock it.
    with suppress(OSError):
        with file_lock(path, timeout=0, unlink=True):
            pass
