"""API key generation, hashing and fingerprints.

Configuration stores a key only as the SHA-256 digest of its ASCII bytes.
Keys carry 256 bits from :func:`secrets.token_urlsafe`, so an unsalted fast
hash is enough: brute force cannot recover a random 256-bit value from its
digest.
"""

from __future__ import annotations

import hashlib
import secrets

#: Marks a string as a ClStock API key, so secret scanners and people can tell.
KEY_PREFIX = "clsk_"
KEY_BYTES = 32
FINGERPRINT_LENGTH = 12


def generate_key() -> str:
    """Return a new random API key, e.g. ``clsk_3q2...`` (48 characters)."""
    return KEY_PREFIX + secrets.token_urlsafe(KEY_BYTES)


def key_digest(key: bytes) -> bytes:
    """Return the SHA-256 digest under which a key is configured."""
    return hashlib.sha256(key).digest()


def fingerprint(digest: bytes) -> str:
    """Return a short public name of a key: the first 12 hex digits of its digest.

    It is safe to log and matches the start of the configured ``sha256``
    value, so an operator can find the key a log line refers to.
    """
    return digest.hex()[:FINGERPRINT_LENGTH]
