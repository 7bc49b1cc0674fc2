"""``clstock keys create``: issue a new API key."""

from __future__ import annotations

import json
import re

import click

from clstock_apikey.keys import generate_key, key_digest
from clstock_apikey.settings import LABEL_PATTERN, ROLE_ORDER

_LABEL_RE = re.compile(LABEL_PATTERN)


@click.group()
def keys() -> None:
    """Manage API keys of the HTTP API."""


@keys.command("create")
@click.option(
    "--role",
    type=click.Choice(sorted(ROLE_ORDER)),
    required=True,
    help="'reader' may read data; 'admin' may also clear the cache.",
)
@click.option(
    "--label", default="", help="Name shown in logs, e.g. 'dashboard' (max 64 characters)."
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Output format.",
)
def create(role: str, label: str, output_format: str) -> None:
    """Print a new random API key once, with the configuration entry that accepts it.

    Only the SHA-256 digest goes into the configuration. The key itself is
    printed here and nowhere else: store it now.
    """
    if not _LABEL_RE.fullmatch(label):
        raise click.BadParameter(
            "use at most 64 letters, digits, spaces and . _ @ : / + -", param_hint="--label"
        )

    key = generate_key()
    digest = key_digest(key.encode("ascii")).hex()
    entry = f'{{ sha256 = "{digest}", role = "{role}", label = "{label}" }}'

    if output_format == "json":
        payload = {"key": key, "sha256": digest, "role": role, "label": label}
        click.echo(json.dumps(payload))
        return

    click.echo(f"API key (shown only this once; store it in a secret manager now):\n\n  {key}\n")
    click.echo("Accept it with this entry in the configuration file:\n")
    click.echo("  [auth.api-key]")
    click.echo(f"  keys = [\n    {entry},\n  ]\n")
    click.echo("or through the environment (the variable replaces the whole list):\n")
    click.echo(f"  CLSTOCK_AUTH__API_KEY__KEYS='[{entry}]'")
