"""The ``api-key`` auth provider: ``Authorization: Bearer <key>`` against hashed keys."""

from __future__ import annotations

import hmac
import logging
import re
from dataclasses import dataclass

from clstock_apikey.keys import fingerprint, key_digest
from clstock_apikey.settings import ROLE_ORDER, ApiKeySettings
from clstock_core.errors import AuthError
from clstock_core.roles import Principal

logger = logging.getLogger(__name__)

#: RFC 6750 section 2.1: ``Bearer`` (any case), one space, a b64token.
_BEARER_RE = re.compile(rb"[Bb][Ee][Aa][Rr][Ee][Rr] ([A-Za-z0-9\-._~+/]+=*)")
#: Far above any key this provider issues (48 characters), far below header limits.
MAX_TOKEN_LENGTH = 256

#: Well-known keys of the development profile. Anyone can guess them, so the
#: provider accepts them only with [engine] profile = "development", and the
#: HTTP front-end then binds to loopback addresses only.
DEVELOPMENT_KEYS = {"development-key": "reader", "admin-key": "admin"}


@dataclass(frozen=True)
class _AcceptedKey:
    digest: bytes
    principal: Principal


class ApiKeyProvider:
    """Authenticates bearer tokens against SHA-256 digests of the accepted keys.

    Every configured digest is compared with :func:`hmac.compare_digest`, and
    the loop never stops early, so the time taken does not depend on which
    key, if any, matched.
    """

    def __init__(self, settings: ApiKeySettings, *, development: bool = False) -> None:
        self._keys = [
            _AcceptedKey(
                digest=bytes.fromhex(entry.sha256),
                principal=Principal(
                    identity=fingerprint(bytes.fromhex(entry.sha256)),
                    role=entry.role,
                    label=entry.label,
                ),
            )
            for entry in settings.keys
        ]
        #: True when well-known keys are accepted, so the server must stay on loopback.
        self.loopback_only = development
        if development:
            self._keys.extend(_development_keys())
        self._log_keys(development)

    @classmethod
    def from_settings(cls, settings: ApiKeySettings, app: object = None) -> ApiKeyProvider:
        config = getattr(app, "config", None)
        profile = getattr(getattr(config, "engine", None), "profile", "production")
        return cls(settings, development=profile == "development")

    def _log_keys(self, development: bool) -> None:
        if development:
            logger.warning(
                "DEVELOPMENT PROFILE: the well-known API keys 'development-key' (reader) and "
                "'admin-key' (admin) are accepted. Anyone can guess them: never use "
                '[engine] profile = "development" on a reachable server'
            )
        configured = len(self._keys) - (len(DEVELOPMENT_KEYS) if development else 0)
        if configured == 0 and not development:
            logger.warning(
                "no API keys configured: every authenticated route will respond with 401; "
                "create one with 'clstock keys create --role reader'"
            )
        for key in self._keys:
            logger.debug(
                "accepting API key %s (%s, role %s)",
                key.principal.identity,
                key.principal.label or "no label",
                key.principal.role,
            )

    def authenticate(self, authorization: bytes | None) -> Principal:
        """Return the caller for a raw ``Authorization`` header value.

        Raises :class:`AuthError` for a missing header, anything other than
        ``Bearer <token>`` with exactly one space, a token with characters
        outside RFC 6750's b64token set, or an unknown key.
        """
        if not authorization:
            raise AuthError("missing API key: send the header 'Authorization: Bearer <key>'")
        match = _BEARER_RE.fullmatch(authorization)
        if match is None:
            raise AuthError(
                "malformed Authorization header: expected 'Bearer <key>' with a single space "
                "and no other characters"
            )
        token = match.group(1)
        if len(token) > MAX_TOKEN_LENGTH:
            raise AuthError(f"invalid API key: longer than {MAX_TOKEN_LENGTH} characters")

        digest = key_digest(token)
        found: Principal | None = None
        for key in self._keys:
            if hmac.compare_digest(key.digest, digest):
                found = key.principal
        if found is None:
            raise AuthError("invalid API key: it matches no configured key")
        return found

    def has_role(self, principal: Principal, required: str) -> bool:
        """Return whether ``principal`` may use a route that needs ``required``.

        ``admin`` includes ``reader``; an unknown role grants nothing.
        """
        granted_rank = ROLE_ORDER.get(principal.role, 0)
        required_rank = ROLE_ORDER.get(required)
        return required_rank is not None and granted_rank >= required_rank


def _development_keys() -> list[_AcceptedKey]:
    keys = []
    for key, role in DEVELOPMENT_KEYS.items():
        digest = key_digest(key.encode("ascii"))
        principal = Principal(identity=fingerprint(digest), role=role, label=f"development {role}")
        keys.append(_AcceptedKey(digest=digest, principal=principal))
    return keys
