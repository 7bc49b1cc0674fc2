"""Options of the ``pickle`` cache backend, in ``[cache.pickle]``."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class PickleCacheSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    directory: Path | None = Field(
        default=None,
        description="Directory of the cache files (created with mode 0700); "
        "default: the 'pickle' folder in the user cache directory",
    )
    secret_file: Path | None = Field(
        default=None,
        description="File with the 32-byte HMAC key that signs entries (mode 0600); "
        "default: cache-hmac.key in the user data directory",
    )
    max_size_mb: float = Field(
        default=512.0,
        gt=0,
        description="Maximum total size of the entries in MiB; "
        "beyond it the least recently used entries are evicted",
    )
    default_ttl: float = Field(
        default=7 * 24 * 3600.0,
        ge=0,
        description="Seconds an entry stays valid when the caller sets no TTL; "
        "0 keeps it until evicted",
    )
    lock_timeout: float = Field(
        default=10.0,
        gt=0,
        le=600,
        description="Seconds a write waits for another process writing the same key",
    )
