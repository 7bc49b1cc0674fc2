"""Run the API under uvicorn: the ``http`` front-end behind ``clstock serve``."""

from __future__ import annotations

import logging
import os
from typing import Any

import uvicorn

from clstock_core.app import Application
from clstock_core.config import CONFIG_ENV
from clstock_core.errors import ConfigError
from clstock_core.lifecycle import server_signals
from clstock_http.asgi import ClStockApi
from clstock_http.logging_setup import configure_logging
from clstock_http.settings import HttpSettings, is_loopback_host

logger = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILURE = 0, 1

#: Import string of the factory each worker process calls when workers > 1.
WORKER_FACTORY = "clstock_http.server:worker_app"


class HttpFrontend:
    """Serves the API with uvicorn until SIGINT or SIGTERM."""

    def __init__(self, settings: HttpSettings, application: Application) -> None:
        self.settings = settings
        self.application = application

    @classmethod
    def from_settings(cls, settings: HttpSettings, app: Application) -> HttpFrontend:
        return cls(settings, app)

    def serve(self) -> int:
        """Run the server and return the exit code: 0 after a stop by signal."""
        settings = self.settings
        configure_logging(settings.log_level)
        self._check_bind_address()
        self._warn_per_worker_limits()
        # Build the engine's components now, so a configuration error (a
        # missing price directory, say) exits 2 with its message instead of
        # surfacing as a failed lifespan startup inside uvicorn.
        _ = self.application.engine

        if settings.workers > 1:
            return self._serve_workers()
        return self._serve_single()

    def _check_bind_address(self) -> None:
        auth = self.application.component("auth")
        if getattr(auth, "loopback_only", False) and not is_loopback_host(self.settings.host):
            raise ConfigError(
                f'refusing to serve on {self.settings.host!r}: [engine] profile = "development" '
                f"accepts well-known API keys, so the server may only bind to a loopback address "
                f"such as 127.0.0.1; use the production profile with keys from "
                f"'clstock keys create'"
            )

    def _warn_per_worker_limits(self) -> None:
        if self.settings.workers <= 1:
            return
        limiter = self.application.component("rate_limiter")
        if limiter is not None and getattr(limiter, "per_process", False):
            logger.warning(
                "rate limits are counted per worker process: with %d workers a client may make "
                "up to %d times each configured limit; run one worker or a shared limiter",
                self.settings.workers,
                self.settings.workers,
            )

    def _uvicorn_options(self) -> dict[str, Any]:
        settings = self.settings
        return {
            "host": settings.host,
            "port": settings.port,
            "log_level": settings.log_level,
            # Logging is configured by configure_logging; uvicorn's own access
            # log would print query strings, which may hold a pasted key.
            "log_config": None,
            "access_log": False,
            # X-Forwarded-For is interpreted by the API against its own
            # trusted_proxies; uvicorn must not rewrite the client address.
            "proxy_headers": False,
            "server_header": False,
            "lifespan": "on",
            "timeout_graceful_shutdown": int(settings.graceful_shutdown_seconds) or None,
        }

    def _serve_single(self) -> int:
        # uvicorn stops gracefully on SIGINT/SIGTERM and then raises the
        # signal again under the handlers installed before it started. The
        # handlers of server_signals() only record it, so a clean stop exits
        # with 0 instead of being killed by the re-raised signal.
        with server_signals() as signals:
            api = ClStockApi(self.application, self.settings, signals=signals)
            server = uvicorn.Server(uvicorn.Config(api, **self._uvicorn_options()))
            try:
                server.run()
            except SystemExit as stop:
                code = stop.code if isinstance(stop.code, int) else EXIT_FAILURE
                logger.error("server stopped during startup (exit code %d)", code)
                return code or EXIT_FAILURE

        if not server.started:
            return EXIT_FAILURE
        if signals.received:
            logger.info("stopped by %s", signals.received)
        return EXIT_OK

    def _serve_workers(self) -> int:
        # Each worker process rebuilds the Application from the same file and
        # environment; the command-line options reach it as overrides.
        config_path = self.application.config.path
        if config_path is not None:
            os.environ[CONFIG_ENV] = str(config_path.resolve())
        for key, value in (
            ("HOST", self.settings.host),
            ("PORT", str(self.settings.port)),
            ("WORKERS", str(self.settings.workers)),
            ("LOG_LEVEL", self.settings.log_level),
        ):
            os.environ[f"CLSTOCK_FRONTEND__HTTP__{key}"] = value

        uvicorn.run(
            WORKER_FACTORY, factory=True, workers=self.settings.workers, **self._uvicorn_options()
        )
        return EXIT_OK


def worker_app() -> ClStockApi:
    """Build the API in a worker process from ``$CLSTOCK_CONFIG`` and the environment."""
    application = Application()
    settings = application.config.settings.get(("frontend", "http"))
    if not isinstance(settings, HttpSettings):
        settings = HttpSettings()
    configure_logging(settings.log_level)
    return ClStockApi(application, settings)
