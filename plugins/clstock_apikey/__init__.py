"""The ``api-key`` auth provider and the ``clstock keys`` commands."""

from clstock_core.markers import hookimpl


@hookimpl
def clstock_register_auth_providers(register):
    from clstock_apikey.provider import ApiKeyProvider
    from clstock_apikey.settings import ApiKeySettings

    register(
        "api-key",
        ApiKeyProvider.from_settings,
        settings=ApiKeySettings,
        description="Bearer API keys, configured as SHA-256 digests with a role",
    )


@hookimpl
def clstock_cli_commands(cli):
    from clstock_apikey.cli import keys

    cli.add_command(keys)
