"""Fixtures of the HTTP API tests: a configured application, keys, clocks, a client."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from clstock_http.asgi import ClStockApi
from clstock_limiter.limiter import Limiter
from clstock_limiter.settings import LimiterSettings
from starlette.testclient import TestClient

from clstock_core.app import Application
from clstock_core.markers import hookimpl

READER_KEY = "clsk_reader-key-for-tests"
ADMIN_KEY = "clsk_admin-key-for-tests"
OTHER_READER_KEY = "clsk_second-reader-key"

#: A Wednesday during the morning session, 10:00 in Tokyo.
TRADING_MORNING = dt.datetime(2025, 6, 11, 1, 0, tzinfo=dt.UTC)


def sha256_hex(key: str) -> str:
    return hashlib.sha256(key.encode("ascii")).hexdigest()


def keys_toml() -> str:
    entries = [
        (READER_KEY, "reader", "reader one"),
        (OTHER_READER_KEY, "reader", "reader two"),
        (ADMIN_KEY, "admin", "ops"),
    ]
    lines = ",\n".join(
        f'  {{ sha256 = "{sha256_hex(key)}", role = "{role}", label = "{label}" }}'
        for key, role, label in entries
    )
    return f"[auth.api-key]\nkeys = [\n{lines}\n]\n"


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


class FakeClock:
    """Monotonic seconds that only move when a test advances them."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def write_config(tmp_path: Path, price_dir: Path) -> Callable[..., Path]:
    """Write a config over the synthetic prices; ``extra`` is appended as TOML."""

    def write(extra: str = "", *, keys: bool = True, name: str = "clstock.toml") -> Path:
        path = tmp_path / name
        path.write_text(
            f"""
[data_source]
use = "csv"
[data_source.csv]
directory = "{price_dir.as_posix()}"
universe_file = "{(price_dir.parent / "symbols.csv").as_posix()}"
[cache]
use = "none"
[engine]
history_days = 20000
"""
            + (keys_toml() if keys else "")
            + extra,
            encoding="utf-8",
        )
        return path

    return write


@pytest.fixture
def make_client(write_config: Callable[..., Path]) -> Iterator[Callable[..., TestClient]]:
    """Build an API over a fresh application and start it through its lifespan."""
    opened: list[TestClient] = []

    def make(
        extra: str = "",
        *,
        keys: bool = True,
        extra_plugins: tuple[tuple[str, object], ...] = (),
        environ: dict[str, str] | None = None,
        clock: Callable[[], float] | None = None,
        wall_clock: Callable[[], float] = TRADING_MORNING.timestamp,
        base_url: str = "http://testserver",
        client: tuple[str, int] = ("192.0.2.10", 50000),
        **api_options: Any,
    ) -> TestClient:
        application = Application(
            write_config(extra, keys=keys),
            environ={**os.environ, **(environ or {})},
            extra_plugins=extra_plugins,
        )
        options: dict[str, Any] = {"wall_clock": wall_clock, **api_options}
        if clock is not None:
            options["clock"] = clock
        api = ClStockApi(application, **options)
        test_client = TestClient(api, base_url=base_url, client=client)
        test_client.__enter__()
        opened.append(test_client)
        return test_client

    yield make
    for test_client in opened:
        test_client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    """A started API with warm-up off, so tests decide when the ranking runs."""
    return make_client("[frontend.http]\nwarm_up = false\n")


class ClockedLimiterPlugin:
    """Registers the ``clocked`` rate limiter: the real Limiter on a test clock."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock

    @hookimpl
    def clstock_register_rate_limiters(self, register: Any) -> None:
        register(
            "clocked",
            lambda settings, app: Limiter(settings, clock=self.clock),
            settings=LimiterSettings,
        )


@pytest.fixture
def limited_client(
    make_client: Callable[..., TestClient],
) -> Callable[..., tuple[TestClient, FakeClock]]:
    """An API whose limiter runs on a FakeClock, with the given route limits."""

    def make(routes: str, **options: Any) -> tuple[TestClient, FakeClock]:
        clock = FakeClock()
        extra = (
            "[frontend.http]\nwarm_up = false\n"
            + options.pop("frontend", "")
            + f'[rate_limiter]\nuse = "clocked"\n[rate_limiter.clocked]\nroutes = {{ {routes} }}\n'
        )
        test_client = make_client(
            extra, extra_plugins=(("clocked", ClockedLimiterPlugin(clock)),), **options
        )
        return test_client, clock

    return make
