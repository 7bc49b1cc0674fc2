"""Temp files and directories of one ClStock process, removed at shutdown.

Every entry lives in the application's own temp directory,
``$TMPDIR/clstock-<uid>`` (mode 0700), and is named
``clstock-<pid>-<random><suffix>`` so that :meth:`TempFiles.cleanup_stale`
can tell the leftovers of a crashed run from the files of a live one.
Files are created with mode 0600 and directories with mode 0700.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import shutil
import stat
import tempfile
import threading
import time
from pathlib import Path

logger = logging.getLogger(__name__)

PREFIX = "clstock"
#: Matches the names this module creates and captures the owning pid.
_NAME = re.compile(rf"^{PREFIX}-(?P<pid>[0-9]+)-")

#: Leftovers younger than this are kept even when their process looks dead,
#: because a process in another pid namespace sharing the directory would
#: look dead too.
DEFAULT_STALE_AGE = 24 * 3600.0


class TempFiles:
    """Creates, tracks and removes the temp files of one application."""

    def __init__(self, root: str | Path | None = None) -> None:
        self._root = Path(root) if root is not None else None
        self._paths: set[Path] = set()
        self._lock = threading.Lock()

    @property
    def root(self) -> Path:
        """The application's temp directory, created with mode 0700 on first use."""
        path = self._root_path()
        _ensure_private_directory(path)
        return path

    def file(self, suffix: str = "") -> Path:
        """Create an empty temp file (mode 0600) and return its path."""
        descriptor, name = tempfile.mkstemp(suffix=suffix, prefix=self._prefix(), dir=self.root)
        os.close(descriptor)
        return self._track(Path(name))

    def directory(self, suffix: str = "") -> Path:
        """Create an empty temp directory (mode 0700) and return its path."""
        return self._track(
            Path(tempfile.mkdtemp(suffix=suffix, prefix=self._prefix(), dir=self.root))
        )

    def remove(self, path: Path) -> None:
        """Remove a temp file or directory now and stop tracking it."""
        with self._lock:
            self._paths.discard(path)
        _remove(path)

    def cleanup(self) -> int:
        """Remove every tracked entry that still exists; return how many were removed."""
        with self._lock:
            paths = sorted(self._paths)
            self._paths.clear()

        removed = 0
        for path in paths:
            if _remove(path):
                removed += 1
        if removed:
            logger.debug("removed %d temp file(s) from %s", removed, self._root)
        return removed

    def cleanup_stale(self, older_than: float = DEFAULT_STALE_AGE) -> int:
        """Remove entries that crashed runs left behind; return how many were removed.

        An entry is removed only when its name has this module's prefix,
        the process id in its name is not running, and it was last modified
        more than ``older_than`` seconds ago. Nothing else in the directory
        is touched.
        """
        root = self._root_path()
        if not os.path.lexists(root):
            return 0
        try:
            _ensure_private_directory(root)
            entries = list(os.scandir(root))
        except OSError as error:
            logger.warning("cannot clean up temp directory %s: %s", root, error)
            return 0

        cutoff = time.time() - older_than
        removed = 0
        for entry in entries:
            if _is_stale(entry, cutoff) and _remove(Path(entry.path)):
                removed += 1
        if removed:
            logger.info("removed %d stale temp file(s) of crashed runs from %s", removed, root)
        return removed

    def _root_path(self) -> Path:
        if self._root is None:
            self._root = Path(tempfile.gettempdir()) / f"{PREFIX}-{os.getuid()}"
        return self._root

    def _prefix(self) -> str:
        return f"{PREFIX}-{os.getpid()}-"

    def _track(self, path: Path) -> Path:
        with self._lock:
            self._paths.add(path)
        return path


def _ensure_private_directory(path: Path) -> None:
    """Create ``path`` with mode 0700, or check that an existing one is safe to use."""
    try:
        path.mkdir(mode=0o700, parents=True)
        return
    except FileExistsError:
        pass

    info = path.lstat()
    if not stat.S_ISDIR(info.st_mode):
        raise OSError(
            errno.ENOTDIR, f"temp directory {path} is not a directory; remove it", str(path)
        )
    if info.st_uid != os.getuid():
        raise PermissionError(
            errno.EACCES,
            f"temp directory {path} belongs to user id {info.st_uid}, not to this user; "
            f"remove it or set TMPDIR to another directory",
            str(path),
        )
    if stat.S_IMODE(info.st_mode) & 0o077:
        os.chmod(path, 0o700)


def _is_stale(entry: os.DirEntry[str], cutoff: float) -> bool:
    match = _NAME.match(entry.name)
    if match is None:
        return False
    pid = int(match.group("pid"))
    if pid == os.getpid() or process_running(pid):
        return False
    try:
        return entry.stat(follow_symlinks=False).st_mtime < cutoff
    except FileNotFoundError:
        return False


def process_running(pid: int) -> bool:
    """Return whether a process with this id exists (it may belong to another user)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists but belongs to another user
    return True


def _remove(path: Path) -> bool:
    """Remove a file or a directory tree without following symlinks; return whether it existed."""
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    except FileNotFoundError:
        return False
    except OSError as error:
        logger.warning("cannot remove temp file %s: %s", path, error)
        return False
    return True
