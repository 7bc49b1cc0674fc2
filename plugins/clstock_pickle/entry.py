"""The byte layout of one cache entry and its HMAC-SHA256 check.

An entry file is a 64-byte header, the pickle (protocol 5) of the value and
a 32-byte HMAC-SHA256 tag over everything before it::

    offset  size  field
         0     4  magic b"CLSC"
         4     2  format version (1), little-endian
         6     2  reserved, 0
         8     8  created, Unix time (float64)
        16     8  expires, Unix time (float64); 0 means never
        24     8  payload length n in bytes (uint64)
        32    32  SHA-256 of the cache key (UTF-8)
        64     n  payload: the pickled value
      64+n    32  HMAC-SHA256(secret, bytes 0 to 64+n)

The tag covers the header, so the expiry and the key cannot be changed, and
the key digest ties the entry to its key, so a file copied to another key's
path is rejected. The tag comes last so that it is computed in one pass over
one contiguous range. :func:`decode` checks all of this before returning
the payload; nothing is unpickled from an entry that fails a check.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass

MAGIC = b"CLSC"
FORMAT_VERSION = 1
HEADER = struct.Struct("<4sHHddQ32s")
TAG_SIZE = 32
PAYLOAD_OFFSET = HEADER.size
#: Bytes an entry adds to its payload.
OVERHEAD = HEADER.size + TAG_SIZE
PICKLE_PROTOCOL = 5


class InvalidEntry(ValueError):
    """An entry's header, length or signature does not verify."""


@dataclass(frozen=True)
class Header:
    """The decoded fixed-size fields of an entry."""

    created: float
    expires: float
    payload_size: int
    key_digest: bytes

    def expired(self, now: float) -> bool:
        return self.expires != 0.0 and now >= self.expires


def key_digest(key: str) -> bytes:
    """Return the SHA-256 of ``key``, which names the entry's file and is stored in it."""
    return hashlib.sha256(key.encode("utf-8")).digest()


def encode(
    secret: bytes, digest: bytes, payload: bytes, *, created: float, expires: float
) -> tuple[bytes, bytes]:
    """Return the header to write before ``payload`` and the tag to write after it."""
    header = HEADER.pack(MAGIC, FORMAT_VERSION, 0, created, expires, len(payload), digest)
    tag = hmac.new(secret, header, hashlib.sha256)
    tag.update(payload)
    return header, tag.digest()


def read_header(data: bytes | memoryview) -> Header:
    """Decode the header fields without checking the tag; raise InvalidEntry when malformed."""
    if len(data) < HEADER.size:
        raise InvalidEntry(f"{len(data)} bytes, shorter than the {HEADER.size}-byte header")
    magic, version, _reserved, created, expires, size, digest = HEADER.unpack_from(data)
    if magic != MAGIC:
        raise InvalidEntry(f"bad magic {magic!r}, expected {MAGIC!r}")
    if version != FORMAT_VERSION:
        raise InvalidEntry(f"format version {version}, expected {FORMAT_VERSION}")
    return Header(created=created, expires=expires, payload_size=size, key_digest=digest)


def decode(secret: bytes, digest: bytes, data: bytes) -> tuple[Header, memoryview]:
    """Verify a whole entry and return its header and a view of its payload.

    Raises InvalidEntry when the header is malformed, the length differs
    from the header's, the key digest is another key's, or the tag does
    not match.
    """
    header = read_header(data)
    expected = OVERHEAD + header.payload_size
    if len(data) != expected:
        raise InvalidEntry(f"{len(data)} bytes, the header promises {expected}")
    if not hmac.compare_digest(header.key_digest, digest):
        raise InvalidEntry("the entry belongs to another key")

    view = memoryview(data)
    signed = view[:-TAG_SIZE]
    if not hmac.compare_digest(hmac.digest(secret, signed, "sha256"), view[-TAG_SIZE:]):
        raise InvalidEntry("HMAC signature mismatch")
    return header, signed[PAYLOAD_OFFSET:]
