"""Property-based fuzzing of the whole API from its own OpenAPI document (schemathesis 4).

Every generated request, valid or deliberately invalid, must get a non-5xx
response whose status, headers and body match the document. Examples per
operation are kept small so the whole area stays fast.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from clstock_http.asgi import ClStockApi
from clstock_http.openapi import build_openapi
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode

from clstock_core.app import Application
from tests.helpers import make_ohlcv, write_plain_csv
from tests.http.conftest import ADMIN_KEY, auth, keys_toml

MAX_EXAMPLES = 30
UNLIMITED = ", ".join(
    f'{route} = "100000/minute"'
    for route in ("recommendations", "recommendation", "stocks", "stock_data", "cache_clear")
)


@pytest.fixture(scope="module")
def fuzz_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fuzz")
    prices = root / "prices"
    prices.mkdir()
    for index, ticker in enumerate(["7203.T", "6758.T", "130A.T"]):
        write_plain_csv(prices / f"{ticker}.csv", make_ohlcv(200, seed=index))
    config = root / "clstock.toml"
    config.write_text(
        f"""
[data_source]
use = "csv"
[data_source.csv]
directory = "{prices.as_posix()}"
[cache]
use = "none"
[engine]
history_days = 20000
[rate_limiter.limiter]
routes = {{ {UNLIMITED} }}
"""
        + keys_toml(),
        encoding="utf-8",
    )
    return config


@pytest.fixture
def fuzz_api(fuzz_config: Path) -> ClStockApi:
    # schemathesis starts the lifespan on the first request of a test and
    # stops it when the test ends, so each operation gets a fresh application.
    return ClStockApi(Application(fuzz_config))


# The document does not depend on the running application, so it is built at
# import. (schemathesis.pytest.from_fixture, the lazy loader, fails under
# pytest 9.2 with schemathesis 4.32: it sets the removed Function._nodeid.)
schema = schemathesis.openapi.from_dict(build_openapi())
schema.config.generation.update(
    modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE], max_examples=MAX_EXAMPLES
)


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    # fuzz_api is function-scoped on purpose: one application per operation,
    # shared by that operation's examples.
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.function_scoped_fixture,
    ],
)
def test_api_matches_its_openapi_document(case: schemathesis.Case, fuzz_api: ClStockApi) -> None:
    # parametrize() works on a copy of the schema, loaded before the fixture
    # built the app; the auth probes of the checks send through the copy.
    case.operation.schema.app = fuzz_api
    case.call_and_validate(app=fuzz_api, headers=auth(ADMIN_KEY))
