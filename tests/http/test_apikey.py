"""The api-key auth provider, its settings and 'clstock keys create'."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from pathlib import Path

import pytest
from clstock_apikey import provider as provider_module
from clstock_apikey.keys import fingerprint, generate_key, key_digest
from clstock_apikey.provider import ApiKeyProvider
from clstock_apikey.settings import ApiKeySettings

from clstock_core.app import Application
from clstock_core.cli.main import main
from clstock_core.errors import AuthError, ConfigError
from clstock_core.roles import AuthProvider, Principal
from tests.http.conftest import ADMIN_KEY, READER_KEY, sha256_hex


def make_provider(*, development: bool = False) -> ApiKeyProvider:
    settings = ApiKeySettings.model_validate(
        {
            "keys": [
                {"sha256": sha256_hex(READER_KEY), "role": "reader", "label": "dashboard"},
                {"sha256": sha256_hex(ADMIN_KEY).upper(), "role": "admin", "label": "ops"},
            ]
        }
    )
    return ApiKeyProvider(settings, development=development)


def test_provider_follows_the_role_protocol() -> None:
    assert isinstance(make_provider(), AuthProvider)


def test_valid_key_returns_principal() -> None:
    principal = make_provider().authenticate(f"Bearer {READER_KEY}".encode())

    assert principal.role == "reader"
    assert principal.label == "dashboard"
    assert principal.identity == sha256_hex(READER_KEY)[:12]


def test_scheme_is_case_insensitive() -> None:
    principal = make_provider().authenticate(f"bEaReR {ADMIN_KEY}".encode())

    assert principal.role == "admin"


@pytest.mark.parametrize(
    "header",
    [
        None,
        b"",
        b"Bearer",
        b"Bearer ",
        b"Bearer  " + READER_KEY.encode(),
        b"Bearer " + READER_KEY.encode() + b" ",
        b" Bearer " + READER_KEY.encode(),
        b"Bearer\t" + READER_KEY.encode(),
        b"Bearer " + READER_KEY.encode() + b"\n",
        b"Basic " + READER_KEY.encode(),
        b"Token " + READER_KEY.encode(),
        READER_KEY.encode(),
        b"Bearer \xff\xfe",
        "Bearer clsk_caf\u00e9".encode(),
        b"Bearer clsk_a b",
        b"Bearer clsk_\x00",
        b"Bearer " + b"a" * 257,
        b"Bearer =abc",
        b"Bearer unknown-key",
    ],
)
def test_malformed_or_unknown_header_raises_auth_error(header: bytes | None) -> None:
    with pytest.raises(AuthError):
        make_provider().authenticate(header)


def test_unknown_key_message_does_not_echo_the_key() -> None:
    with pytest.raises(AuthError) as caught:
        make_provider().authenticate(b"Bearer clsk_guess-123")

    assert "clsk_guess-123" not in str(caught.value)


def test_every_key_is_compared_even_after_a_match(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real_compare = hmac.compare_digest

    def counting_compare(left: bytes, right: bytes) -> bool:
        calls.append((left, right))
        return real_compare(left, right)

    monkeypatch.setattr(provider_module.hmac, "compare_digest", counting_compare)
    make_provider().authenticate(f"Bearer {READER_KEY}".encode())

    assert len(calls) == 2
    assert all(isinstance(left, bytes) and len(left) == 32 for left, _ in calls)


@pytest.mark.parametrize(
    ("held", "required", "allowed"),
    [
        ("reader", "reader", True),
        ("reader", "admin", False),
        ("admin", "admin", True),
        ("admin", "reader", True),
        ("reader", "superuser", False),
        ("guest", "reader", False),
    ],
)
def test_has_role_admin_implies_reader(held: str, required: str, allowed: bool) -> None:
    principal = Principal(identity="x", role=held)

    assert make_provider().has_role(principal, required) is allowed


def test_development_keys_only_in_development_profile() -> None:
    production = make_provider()
    development = make_provider(development=True)

    with pytest.raises(AuthError):
        production.authenticate(b"Bearer development-key")
    assert development.authenticate(b"Bearer development-key").role == "reader"
    assert development.authenticate(b"Bearer admin-key").role == "admin"
    assert development.loopback_only is True
    assert production.loopback_only is False


def test_development_profile_logs_loud_warning(caplog: pytest.LogCaptureFixture) -> None:
    make_provider(development=True)

    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert any("DEVELOPMENT PROFILE" in r.getMessage() for r in warnings)


def test_no_keys_configured_warns(caplog: pytest.LogCaptureFixture) -> None:
    ApiKeyProvider(ApiKeySettings())

    assert any("no API keys configured" in r.getMessage() for r in caplog.records)


def test_keys_are_never_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    provider = make_provider(development=True)
    provider.authenticate(f"Bearer {READER_KEY}".encode())

    text = caplog.text
    assert READER_KEY not in text
    assert ADMIN_KEY not in text
    assert sha256_hex(READER_KEY)[:12] in text


@pytest.mark.parametrize(
    ("entry", "fragment"),
    [
        ({"key": READER_KEY, "role": "reader"}, "key"),
        ({"sha256": "abc", "role": "reader"}, "sha256"),
        ({"sha256": sha256_hex(READER_KEY), "role": "root"}, "role"),
        ({"sha256": sha256_hex(READER_KEY), "role": "reader", "label": "bad\nlabel"}, "label"),
    ],
)
def test_invalid_key_entries_are_rejected(
    entry: dict[str, str], fragment: str, tmp_path: Path, price_dir: Path
) -> None:
    config = tmp_path / "bad.toml"
    values = ", ".join(f"{name} = {json.dumps(value)}" for name, value in entry.items())
    config.write_text(f"[auth.api-key]\nkeys = [{{ {values} }}]\n", encoding="utf-8")

    with pytest.raises(ConfigError) as caught:
        Application(config)

    assert fragment in str(caught.value)
    assert "[auth.api-key]" in str(caught.value)


def test_duplicate_key_entries_are_rejected() -> None:
    entry = {"sha256": sha256_hex(READER_KEY), "role": "reader"}

    with pytest.raises(ValueError, match="listed twice"):
        ApiKeySettings.model_validate({"keys": [entry, {**entry, "role": "admin"}]})


def test_keys_from_environment_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    digest = sha256_hex(READER_KEY)
    monkeypatch.setenv(
        "CLSTOCK_AUTH__API_KEY__KEYS",
        f'[{{ sha256 = "{digest}", role = "reader", label = "env" }}]',
    )

    with Application() as app:
        provider = app.component("auth")
        principal = provider.authenticate(f"Bearer {READER_KEY}".encode())

    assert principal.label == "env"


def test_generated_keys_are_random_and_bearer_safe() -> None:
    keys = {generate_key() for _ in range(50)}

    assert len(keys) == 50
    assert all(re.fullmatch(r"clsk_[A-Za-z0-9_-]{43}", key) for key in keys)


def test_fingerprint_is_digest_prefix() -> None:
    digest = key_digest(b"abc")

    assert fingerprint(digest) == hashlib.sha256(b"abc").hexdigest()[:12]


def test_keys_create_prints_key_and_config_entry(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["keys", "create", "--role", "admin", "--label", "ops team"])
    output = capsys.readouterr().out

    assert code == 0
    key = re.search(r"^  (clsk_\S+)$", output, re.MULTILINE).group(1)
    digest = hashlib.sha256(key.encode()).hexdigest()
    assert f'{{ sha256 = "{digest}", role = "admin", label = "ops team" }}' in output
    assert "CLSTOCK_AUTH__API_KEY__KEYS=" in output
    assert output.count(key) == 1


def test_keys_create_output_configures_working_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["keys", "create", "--role", "reader", "--format", "json"])
    created = json.loads(capsys.readouterr().out)
    config = tmp_path / "keys.toml"
    config.write_text(
        f'[auth.api-key]\nkeys = [{{ sha256 = "{created["sha256"]}", '
        f'role = "{created["role"]}" }}]\n',
        encoding="utf-8",
    )

    with Application(config) as app:
        principal = app.component("auth").authenticate(f"Bearer {created['key']}".encode())

    assert principal.role == "reader"


def test_keys_create_rejects_unsafe_label(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["keys", "create", "--role", "reader", "--label", 'x" , role = "admin'])

    assert code == 2
    assert "--label" in capsys.readouterr().err


def test_keys_create_requires_known_role() -> None:
    assert main(["keys", "create", "--role", "owner"]) == 2


def test_well_known_key_digest_rejected_in_config(tmp_path):
    import hashlib

    from clstock_core.app import Application
    from clstock_core.errors import ConfigError

    digest = hashlib.sha256(b"development-key").hexdigest()
    path = tmp_path / "c.toml"
    path.write_text(
        f'[auth.api-key]\nkeys = [{{ sha256 = "{digest}", role = "admin" }}]\n', encoding="utf-8"
    )
    with pytest.raises(ConfigError, match="well-known key 'development-key'"):
        Application(path, environ={})
