"""A plugin that adds a slow HTTP route and makes shutdown observable, for fault tests.

Load it with ``CLSTOCK_PLUGINS=slow-route=tests.faults.slow_route_plugin`` and
set ``CLSTOCK_TEST_MARKER_DIR``. It records each started request in
``started``, each run of its shutdown hook and of its programmatic shutdown
handler in ``hook`` and ``handler`` (one pid per line), and the path of a
temp file it creates through the application in ``tempfile``.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from starlette.responses import PlainTextResponse
from starlette.routing import Route

from clstock_core.markers import hookimpl


def _markers() -> Path:
    return Path(os.environ["CLSTOCK_TEST_MARKER_DIR"])


def _append(name: str, line: str) -> None:
    with open(_markers() / name, "a", encoding="utf-8") as handle:
        handle.write(f"{line}\n")


async def slow(request):
    seconds = float(request.query_params.get("seconds", "0"))
    if seconds:
        _append("started", request.query_params.get("id", "-"))
    await asyncio.sleep(seconds)
    return PlainTextResponse("completed")


@hookimpl
def clstock_http_routes(app):
    temp = app.tempfiles.file(".json")
    temp.write_text("{}", encoding="utf-8")
    (_markers() / "tempfile").write_text(str(temp), encoding="utf-8")
    app.shutdown.register("slow-route-handler", lambda: _append("handler", str(os.getpid())))
    return [Route("/test/slow", slow, methods=["GET"])]


@hookimpl
def clstock_shutdown(app):
    _append("hook", str(os.getpid()))
