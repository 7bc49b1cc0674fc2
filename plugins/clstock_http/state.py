"""Components and services the API builds at startup and releases at shutdown."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Literal

from clstock_core.app import Application
from clstock_http.clients import ClientResolver
from clstock_http.concurrency import EngineRunner
from clstock_http.guard import Guard
from clstock_http.market_clock import MarketClock
from clstock_http.services import RankingService, StockDataService, StockListService
from clstock_http.settings import HttpSettings

logger = logging.getLogger(__name__)

#: Roles the API builds at startup; readiness reports each.
STARTED_ROLES = ("data_source", "cache", "predictors", "auth", "rate_limiter")


class ServerState:
    """The application's components and the API's services, between startup and shutdown.

    ``clock`` (monotonic seconds) drives cache freshness and ``wall_clock``
    (Unix time in seconds) the market status; tests inject both. The rate
    limiter keeps its own clock.
    """

    def __init__(
        self,
        application: Application,
        settings: HttpSettings,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.application = application
        self.settings = settings
        self.clock = clock
        self.market = MarketClock(wall_clock=wall_clock)
        self.ready = False
        #: The OpenAPI document, set once the routes are known.
        self.openapi = b"{}"
        self.components: dict[str, Literal["ok", "off"]] = {}
        self.guard: Guard | None = None
        self.runner: EngineRunner | None = None
        self.ranking: RankingService | None = None
        self.stock_data: StockDataService | None = None
        self.stock_list: StockListService | None = None
        self._stopped = False

    def start(self) -> None:
        """Build every selected component; raise the first error (a ClStockError names it)."""
        app = self.application
        auth = app.component("auth")
        limiter = app.component("rate_limiter")
        engine = app.engine

        self.guard = Guard(auth, limiter, ClientResolver(self.settings.trusted_proxies))
        self.runner = EngineRunner(self.settings.engine_threads)
        refresh = self.settings.refresh_seconds
        self.ranking = RankingService(
            engine, self.runner, refresh_seconds=refresh, clock=self.clock
        )
        self.stock_data = StockDataService(
            engine,
            self.runner,
            refresh_seconds=refresh,
            max_entries=self.settings.stock_data_cache_size,
            clock=self.clock,
        )
        self.stock_list = StockListService(
            engine, self.runner, refresh_seconds=refresh, clock=self.clock
        )
        self.components = {
            role: "off" if app.config.selected(role) == ["none"] else "ok" for role in STARTED_ROLES
        }
        self.ready = True
        logger.info(
            "API ready: %s",
            ", ".join(f"{role}={','.join(app.config.selected(role))}" for role in STARTED_ROLES),
        )
        if self.settings.warm_up:
            self.ranking.start_warm_up()

    async def stop(self) -> None:
        """Stop background work and wait for engine threads.

        The application lifespan closes the application afterwards.
        """
        if self._stopped:
            return
        self._stopped = True
        self.ready = False

        # Application.engine is a cached_property: look it up without building it.
        engine = vars(self.application).get("engine")
        if engine is not None:
            # Loading stops between batches, so a running refresh ends soon.
            engine.cancel.set()
        for service in (self.ranking, self.stock_data, self.stock_list):
            if service is not None:
                service.stop()
        if self.runner is not None:
            timeout = self.settings.graceful_shutdown_seconds
            if not await self.runner.drain(timeout):
                logger.warning("engine work still running after %.0f s; closing anyway", timeout)
