"""Hook specifications: the contract between the kernel and its plugins.

Lifecycle, in the order the kernel calls them:

1. ``clstock_register_*``: once per application, right after discovery.
   Each plugin receives a ``register`` callback and registers named
   implementations of a role. Nothing is built yet.
2. ``clstock_cli_commands``: once, while the ``clstock`` command group is built.
3. ``clstock_http_routes``: once, while the HTTP front-end builds its app.
4. ``clstock_shutdown``: once, when the application closes.

Every hook is called for all plugins, because none is ``firstresult``.
Each docstring states how the results combine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from clstock_core.markers import hookspec

if TYPE_CHECKING:
    import click

    from clstock_core.app import Application
    from clstock_core.registry import Register


@hookspec
def clstock_register_data_sources(register: Register) -> None:
    """Register data sources, which deliver daily OHLCV history.

    Called once per application after plugin discovery.

    :param register: call ``register(name, factory, settings=Model,
        description=...)`` once per implementation. ``factory(settings, app)``
        returns an object following :class:`clstock_core.roles.DataSource`.
        ``settings`` is a pydantic model class declaring the options.

    Returns nothing. Names from all plugins share one namespace per role: a
    name registered twice raises :class:`~clstock_core.errors.PluginError`
    naming both plugins.
    """


@hookspec
def clstock_register_predictors(register: Register) -> None:
    """Register predictors, which score a universe from 0 to 100.

    Called like :func:`clstock_register_data_sources`; the factory returns a
    :class:`clstock_core.roles.Predictor`. Configuration lists predictors in
    order, and the engine falls back to the next when one cannot serve a
    symbol.
    """


@hookspec
def clstock_register_cache_backends(register: Register) -> None:
    """Register cache backends, which store fetched history between runs.

    Called like :func:`clstock_register_data_sources`; the factory returns a
    :class:`clstock_core.roles.CacheBackend`.
    """


@hookspec
def clstock_register_auth_providers(register: Register) -> None:
    """Register auth providers, which turn request credentials into a principal.

    Called like :func:`clstock_register_data_sources`; the factory returns a
    :class:`clstock_core.roles.AuthProvider`.
    """


@hookspec
def clstock_register_rate_limiters(register: Register) -> None:
    """Register rate limiters, which decide whether a request may proceed.

    Called like :func:`clstock_register_data_sources`; the factory returns a
    :class:`clstock_core.roles.RateLimiter`.
    """


@hookspec
def clstock_register_frontends(register: Register) -> None:
    """Register front-ends, such as the HTTP server behind ``clstock serve``.

    Called like :func:`clstock_register_data_sources`; the factory returns a
    :class:`clstock_core.roles.Frontend`.
    """


@hookspec
def clstock_cli_commands(cli: click.Group) -> None:
    """Add commands to the ``clstock`` command line.

    Called once while the command group is built, before arguments are
    parsed, so it must not touch configuration or the network.

    :param cli: the root ``click.Group``; call ``cli.add_command(...)``.
        Commands reach the application through
        ``clstock_core.cli.context.get_app()``.

    Returns nothing. Every plugin's commands are added; a command name
    already taken raises :class:`~clstock_core.errors.PluginError`.
    """


@hookspec
def clstock_http_routes(app: Application) -> list[Any] | None:
    """Return extra Starlette routes for the HTTP API.

    Called once while the HTTP front-end builds its ASGI app.

    :param app: the running :class:`~clstock_core.app.Application`.

    Returns a list of ``starlette.routing.BaseRoute`` (or None). The lists of
    all plugins are concatenated after the built-in routes; routes are
    mounted as given, so a plugin adds its own authentication where needed.
    """


@hookspec
def clstock_shutdown(app: Application) -> None:
    """Release what a plugin holds when the application closes.

    Called exactly once per application, after components registered with
    the shutdown manager have been closed, and in reverse order of plugin
    registration. An exception is logged with the plugin's name and does not
    stop the other plugins' hooks. Each hook runs in its own thread with a
    10-second timeout; one that runs longer is logged and abandoned. For
    other timeouts or an order among your own resources, register handlers
    with ``app.shutdown.register(name, callback, timeout=...)`` instead.

    :param app: the closing :class:`~clstock_core.app.Application`.
    """
