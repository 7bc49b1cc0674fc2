"""Lifespan startup and shutdown, result caching, single-flight and refresh."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from clstock_http.asgi import ClStockApi
from starlette.testclient import TestClient

from clstock_core.app import Application
from tests.helpers import make_ohlcv, write_plain_csv
from tests.http.conftest import READER_KEY, FakeClock, auth
from tests.http.plugins_for_tests import (
    CountingPredictor,
    PredictorPlugin,
    RoutesPlugin,
    ShutdownCounter,
)

READER = auth(READER_KEY)
COUNTING = {"CLSTOCK_PREDICTORS__USE": '["counting"]'}


def counting_client(
    make_client: Callable[..., TestClient], predictor: CountingPredictor, **options: object
) -> TestClient:
    return make_client(
        options.pop("extra", "[frontend.http]\nwarm_up = false\n"),
        extra_plugins=(("counting", PredictorPlugin(predictor)),),
        environ=COUNTING,
        **options,
    )


def test_shutdown_handlers_run_once_on_lifespan_shutdown(write_config: Callable[..., Path]) -> None:
    counter = ShutdownCounter()
    application = Application(write_config(), extra_plugins=(("counter", counter),))
    api = ClStockApi(application)

    with TestClient(api) as client:
        assert client.get("/api/v1/ready").status_code == 200
        assert counter.calls == 0
    application.close()

    assert counter.calls == 1


def test_components_are_built_at_startup(write_config: Callable[..., Path]) -> None:
    application = Application(write_config())
    api = ClStockApi(application)

    assert api.state.ready is False
    with TestClient(api):
        assert api.state.ready is True
        assert "engine" in vars(application)
    assert api.state.ready is False


def test_requests_before_startup_are_503(write_config: Callable[..., Path]) -> None:
    api = ClStockApi(Application(write_config()))
    client = TestClient(api)  # no "with": the lifespan never runs

    data = client.get("/api/v1/stocks", headers=READER)
    ready = client.get("/api/v1/ready")

    assert data.status_code == 503
    assert data.json()["error"]["code"] == "not_ready"
    assert ready.status_code == 503
    assert client.get("/api/v1/health").status_code == 200


def test_startup_failure_is_reported_and_closes(
    write_config: Callable[..., Path], tmp_path: Path
) -> None:
    counter = ShutdownCounter()
    config = write_config()
    config.write_text(
        config.read_text(encoding="utf-8").replace("prices", "missing-dir", 1), encoding="utf-8"
    )
    application = Application(config, extra_plugins=(("counter", counter),))

    with pytest.raises(Exception, match="does not exist"):
        with TestClient(ClStockApi(application)):
            pass

    assert counter.calls == 1


def test_repeated_requests_compute_once(make_client: Callable[..., TestClient]) -> None:
    predictor = CountingPredictor()
    client = counting_client(make_client, predictor)

    for top_n in (1, 5, 10, 5):
        assert (
            client.get(f"/api/v1/recommendations?top_n={top_n}", headers=READER).status_code == 200
        )
    for symbol in ("7203", "130A", "7203.T"):
        assert client.get(f"/api/v1/recommendation/{symbol}", headers=READER).status_code == 200

    assert predictor.calls == 1


def test_concurrent_identical_requests_compute_once(make_client: Callable[..., TestClient]) -> None:
    predictor = CountingPredictor()
    predictor.release.clear()
    client = counting_client(make_client, predictor)

    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = [
            pool.submit(client.get, "/api/v1/recommendations", headers=READER) for _ in range(8)
        ]
        assert predictor.started.wait(10)
        predictor.release.set()
        statuses = [future.result(timeout=30).status_code for future in futures]

    assert statuses == [200] * 8
    assert predictor.calls == 1


def test_event_loop_serves_while_ranking_runs(make_client: Callable[..., TestClient]) -> None:
    predictor = CountingPredictor()
    predictor.release.clear()
    client = counting_client(make_client, predictor)

    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(client.get, "/api/v1/recommendations", headers=READER)
        assert predictor.started.wait(10)
        health = client.get("/api/v1/health")
        still_running = not pending.done()
        predictor.release.set()
        assert pending.result(timeout=30).status_code == 200

    assert health.status_code == 200
    assert still_running


def test_concurrent_stock_data_requests_load_once(make_client: Callable[..., TestClient]) -> None:
    client = make_client("[frontend.http]\nwarm_up = false\n")
    service = client.app.state.stock_data

    with ThreadPoolExecutor(max_workers=6) as pool:
        responses = list(
            pool.map(lambda _: client.get("/api/v1/stock/7203/data", headers=READER), range(6))
        )

    assert {r.status_code for r in responses} == {200}
    assert len({r.content for r in responses}) == 1
    assert service.computations == 1


def test_warm_up_computes_ranking_at_startup(make_client: Callable[..., TestClient]) -> None:
    predictor = CountingPredictor()
    client = counting_client(make_client, predictor, extra="")

    for _ in range(100):
        if client.get("/api/v1/ready").json()["ranking_cached"]:
            break
        threading.Event().wait(0.05)

    assert predictor.calls == 1
    assert client.get("/api/v1/recommendations", headers=READER).status_code == 200
    assert predictor.calls == 1


def test_refresh_keeps_ranking_when_data_unchanged(make_client: Callable[..., TestClient]) -> None:
    predictor = CountingPredictor()
    clock = FakeClock()
    client = counting_client(
        make_client,
        predictor,
        extra="[frontend.http]\nwarm_up = false\nrefresh_seconds = 60\n",
        clock=clock,
    )
    first = client.get("/api/v1/recommendations", headers=READER).json()

    clock.advance(61)
    client.get("/api/v1/recommendations", headers=READER)  # starts a background reload
    _wait_until(lambda: client.app.state.ranking.loaded_at == clock.now)
    again = client.get("/api/v1/recommendations", headers=READER).json()

    assert predictor.calls == 1
    assert again["report"]["generated_at"] == first["report"]["generated_at"]


def test_refresh_recomputes_when_as_of_changes(
    make_client: Callable[..., TestClient], price_dir: Path
) -> None:
    predictor = CountingPredictor()
    clock = FakeClock()
    client = counting_client(
        make_client,
        predictor,
        extra="[frontend.http]\nwarm_up = false\nrefresh_seconds = 60\n",
        clock=clock,
    )
    before = client.get("/api/v1/recommendations", headers=READER).json()["report"]["as_of"]
    write_plain_csv(price_dir / "6758.T.csv", make_ohlcv(301, seed=1, drift=0.001))
    os.utime(price_dir / "6758.T.csv", (1e9, 2e9))

    clock.advance(61)
    stale = client.get("/api/v1/recommendations", headers=READER).json()["report"]["as_of"]

    def as_of_now() -> str:
        return client.get("/api/v1/recommendations", headers=READER).json()["report"]["as_of"]

    _wait_until(lambda: as_of_now() != before)

    assert stale == before
    assert as_of_now() == "2024-02-28"
    assert predictor.calls == 2


def test_plugin_routes_are_mounted_and_documented(make_client: Callable[..., TestClient]) -> None:
    client = make_client(extra_plugins=(("routes", RoutesPlugin()),))

    echo = client.get("/api/v1/plugin/echo/abc")
    paths = client.get("/api/v1/openapi.json").json()["paths"]

    assert echo.status_code == 200
    assert "/api/v1/plugin/echo/{name}" in paths
    assert paths["/api/v1/plugin/echo/{name}"]["get"]["parameters"][0]["name"] == "name"


def _wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    waiter = threading.Event()
    for _ in range(int(timeout / 0.02)):
        if condition():
            return
        waiter.wait(0.02)
    raise AssertionError("condition not reached in time")
