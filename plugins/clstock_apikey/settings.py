"""Settings of the ``api-key`` auth provider, in ``[auth.api-key]``."""

from __future__ import annotations

import hashlib
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Role = Literal["reader", "admin"]

#: Roles from least to most privileged; a role includes every role before it.
ROLE_ORDER: dict[str, int] = {"reader": 1, "admin": 2}

#: Keys of the development profile, accepted only there and never in ``keys``.
WELL_KNOWN_KEYS = ("development-key", "admin-key")

#: Labels end up in log lines and TOML, so they are restricted to characters
#: that cannot forge a log line or break a quoted string.
LABEL_PATTERN = r"^[A-Za-z0-9 ._@:/+-]{0,64}$"


class KeyEntry(BaseModel):
    """One accepted API key, stored as the SHA-256 hex digest of the key."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sha256: str = Field(
        pattern=r"^[0-9a-fA-F]{64}$",
        description="SHA-256 hex digest of the key, as printed by 'clstock keys create'",
    )
    role: Role = Field(description="'reader' for data routes, 'admin' for those plus admin routes")
    label: str = Field(default="", pattern=LABEL_PATTERN, description="Name shown in logs")

    @field_validator("sha256")
    @classmethod
    def _lower(cls, value: str) -> str:
        digest = value.lower()
        # The development profile's keys are public, so their digests must
        # never be configured: that would accept them in production.
        for key in WELL_KNOWN_KEYS:
            if digest == hashlib.sha256(key.encode("ascii")).hexdigest():
                raise ValueError(
                    f"this is the digest of the well-known key {key!r}, which anyone can "
                    f"guess; create a real key with 'clstock keys create'"
                )
        return digest


class ApiKeySettings(BaseModel):
    """Accepted keys. Set them in the file or as ``CLSTOCK_AUTH__API_KEY__KEYS``."""

    model_config = ConfigDict(extra="forbid")

    keys: list[KeyEntry] = Field(
        default_factory=list,
        description="Accepted keys as {sha256, role, label} tables; never the keys themselves",
    )

    @field_validator("keys")
    @classmethod
    def _unique(cls, keys: list[KeyEntry]) -> list[KeyEntry]:
        seen: set[str] = set()
        for entry in keys:
            if entry.sha256 in seen:
                raise ValueError(
                    f"key {entry.sha256[:12]}... is listed twice; remove one of the entries"
                )
            seen.add(entry.sha256)
        return keys
