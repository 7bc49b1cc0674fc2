"""The ASGI application of the API, built from a ClStock Application."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any

from starlette.routing import BaseRoute, Router

from clstock_core.app import Application
from clstock_core.errors import ClStockError
from clstock_core.lifecycle.asgi import application_lifespan
from clstock_http.middleware import ApiMiddleware
from clstock_http.openapi import openapi_json
from clstock_http.routes import build_routes
from clstock_http.settings import HttpSettings
from clstock_http.state import ServerState

if TYPE_CHECKING:
    from clstock_core.lifecycle.signals import ServerSignals

logger = logging.getLogger(__name__)


class ClStockApi:
    """The API as one ASGI callable.

    Lifespan startup builds the selected components: auth provider, rate
    limiter, data source, cache and predictors. Lifespan shutdown stops
    background work and closes the application, whose ``close()`` runs the
    shutdown handlers once. Routes from the ``clstock_http_routes`` hook are
    mounted after the built-in ones.
    """

    def __init__(
        self,
        application: Application,
        settings: HttpSettings | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        signals: ServerSignals | None = None,
    ) -> None:
        self.application = application
        self._signals = signals
        self.settings = settings or _settings_of(application)
        self.state = ServerState(application, self.settings, clock=clock, wall_clock=wall_clock)

        plugin_routes = _plugin_routes(application)
        self.state.openapi = openapi_json(plugin_routes)
        router = Router(
            build_routes(self.state) + plugin_routes,
            redirect_slashes=False,
        )
        self._http = ApiMiddleware(
            router,
            owner=self,
            security_headers=self.settings.security_headers,
            access_log=self.settings.access_log,
        )

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        await self._http(scope, receive, send)

    async def _lifespan(self, receive: Any, send: Any) -> None:
        message = await receive()
        if message["type"] != "lifespan.startup":
            return

        # Leaving the stack stops the API's background work first. Then the
        # application lifespan calls Application.close(), which runs the
        # shutdown handlers once, after a failed startup as after a normal one.
        async with AsyncExitStack() as stack:
            try:
                await stack.enter_async_context(
                    application_lifespan(self.application, self._signals)(self)
                )
                stack.push_async_callback(self.state.stop)
                self.state.start()
            # After reporting the failure the error is raised again, as
            # Starlette's own lifespan does: uvicorn ignores it once startup
            # has failed, and in-process test clients raise it to the caller.
            except ClStockError as error:
                logger.error("startup failed: %s", error)
                await send({"type": "lifespan.startup.failed", "message": str(error)})
                raise
            except Exception as error:
                logger.exception("startup failed")
                await send({"type": "lifespan.startup.failed", "message": type(error).__name__})
                raise
            await send({"type": "lifespan.startup.complete"})
            message = await receive()

        if message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})


def _settings_of(application: Application) -> HttpSettings:
    settings = application.config.settings.get(("frontend", "http"))
    return settings if isinstance(settings, HttpSettings) else HttpSettings()


def _plugin_routes(application: Application) -> list[BaseRoute]:
    routes: list[BaseRoute] = []
    for result in application.plugin_manager.hook.clstock_http_routes(app=application):
        if result:
            routes.extend(result)
    return routes


def create_app(application: Application, settings: HttpSettings | None = None) -> ClStockApi:
    """Return the ASGI app for ``application``; serve it with any ASGI server."""
    return ClStockApi(application, settings)
