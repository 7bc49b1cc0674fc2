"""The per-installation HMAC key that signs cache entries.

The key is 32 random bytes in a file of mode 0600, by default in the user
data directory rather than in the cache directory: a cache directory copied
from elsewhere (a CI cache, a backup) then cannot bring a key that matches
entries planted in it.
"""

from __future__ import annotations

import os
import secrets
import stat
import tempfile
from pathlib import Path

from platformdirs import user_data_path

from clstock_core.errors import CacheError

SECRET_SIZE = 32


def default_secret_path() -> Path:
    return user_data_path("clstock") / "cache-hmac.key"


def load_or_create_secret(path: Path) -> bytes:
    """Return the key stored at ``path``, creating it first when absent.

    Two processes creating it at the same time end up with the same key:
    each writes a complete temp file and links it into place, and the one
    whose link fails reads the other's. Raises CacheError when the file is
    not private to this user or has the wrong size.
    """
    try:
        return _read(path)
    except FileNotFoundError:
        pass

    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor, temp_name = tempfile.mkstemp(prefix=".cache-hmac-", dir=path.parent)
    try:
        try:
            os.write(descriptor, secrets.token_bytes(SECRET_SIZE))
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        try:
            os.link(temp_name, path)
        except FileExistsError:
            pass
    finally:
        os.unlink(temp_name)
    return _read(path)


def _read(path: Path) -> bytes:
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as error:
        if isinstance(error, FileNotFoundError):
            raise
        raise CacheError(
            f"cannot open cache key file {path}: {error.strerror}; delete it to create a new key"
        ) from None

    try:
        info = os.fstat(descriptor)
        if info.st_uid != os.getuid():
            raise CacheError(
                f"cache key file {path} belongs to user id {info.st_uid}, not to this user; "
                f"delete it to create a new key"
            )
        if stat.S_IMODE(info.st_mode) & 0o077:
            raise CacheError(
                f"cache key file {path} has mode {stat.S_IMODE(info.st_mode):04o}, so other users "
                f"may have read it; delete it to create a new key (every cached entry is dropped)"
            )
        secret = os.read(descriptor, SECRET_SIZE + 1)
    finally:
        os.close(descriptor)

    if len(secret) != SECRET_SIZE:
        raise CacheError(
            f"invalid cache key file {path}: {len(secret)} bytes, expected {SECRET_SIZE}; "
            f"delete it to create a new key"
        )
    return secret
