"""Every route of the API in process: bodies, parameters and CLI parity."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from clstock_http.schemas import ReadinessResponse, StockList
from starlette.testclient import TestClient

from clstock_core.cli.main import main
from clstock_core.models import MarketPhase, Recommendation, RecommendationsResponse, StockData
from tests.helpers import make_ohlcv, write_plain_csv
from tests.http.conftest import ADMIN_KEY, READER_KEY, auth

READER = auth(READER_KEY)


def test_recommendations_default_and_top_n(client: TestClient) -> None:
    default = client.get("/api/v1/recommendations", headers=READER)
    two = client.get("/api/v1/recommendations?top_n=2", headers=READER)

    assert default.status_code == 200
    assert len(default.json()["report"]["recommendations"]) == 6  # the universe has six stocks
    assert [r["rank"] for r in two.json()["report"]["recommendations"]] == [1, 2]
    assert two.headers["content-type"] == "application/json"


def test_recommendations_body_is_the_response_model(client: TestClient) -> None:
    response = client.get("/api/v1/recommendations?top_n=3", headers=READER)

    model = RecommendationsResponse.model_validate_json(response.content)
    assert response.content == model.model_dump_json().encode()
    assert model.report.universe_size == 6
    assert model.report.as_of == dt.date(2024, 2, 27)


def test_recommendations_match_cli_json(
    client: TestClient, write_config: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(name="cli.toml")
    assert main(["--config", str(config), "-q", "recommend", "--format", "json", "--top", "3"]) == 0
    cli_report = json.loads(capsys.readouterr().out)

    api_report = client.get("/api/v1/recommendations?top_n=3", headers=READER).json()["report"]

    assert set(api_report) == set(cli_report)
    assert api_report["recommendations"] == cli_report["recommendations"]
    assert api_report["skipped"] == cli_report["skipped"]
    assert api_report["as_of"] == cli_report["as_of"]


def test_market_status_in_trading_session(client: TestClient) -> None:
    market = client.get("/api/v1/recommendations", headers=READER).json()["market"]

    assert market["is_open"] is True
    assert market["phase"] == MarketPhase.MORNING_SESSION.value
    assert market["next_change"] == "2025-06-11T11:30:00+09:00"


def test_market_status_closed_on_holiday(make_client: Callable[..., TestClient]) -> None:
    culture_day = dt.datetime(2025, 11, 3, 2, 0, tzinfo=dt.UTC)
    client = make_client(wall_clock=culture_day.timestamp)

    market = client.get("/api/v1/recommendations", headers=READER).json()["market"]

    assert market["is_open"] is False
    assert market["trading_day"] is False
    assert market["closed_reason"] == "Culture Day"


@pytest.mark.parametrize("value", ["0", "51", "-1", "abc", "1.5", "", "%205", "1e1", "99999999999"])
def test_invalid_top_n_is_422_naming_parameter(client: TestClient, value: str) -> None:
    response = client.get(f"/api/v1/recommendations?top_n={value}", headers=READER)

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_parameter"
    assert error["parameter"] == "top_n"
    assert error["accepted"] == ["integer from 1 to 50"]


def test_duplicate_parameter_is_422(client: TestClient) -> None:
    response = client.get("/api/v1/recommendations?top_n=1&top_n=2", headers=READER)

    assert response.status_code == 422
    assert response.json()["error"]["parameter"] == "top_n"


def test_unknown_query_parameter_is_422(client: TestClient) -> None:
    response = client.get("/api/v1/recommendations?monkey=1", headers=READER)

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["parameter"] == "monkey"
    assert error["accepted"] == ["top_n"]


@pytest.mark.parametrize("symbol", ["7203", "7203.T", "7203.t"])
def test_recommendation_symbol_forms(client: TestClient, symbol: str) -> None:
    response = client.get(f"/api/v1/recommendation/{symbol}", headers=READER)

    assert response.status_code == 200
    assert Recommendation.model_validate_json(response.content).symbol == "7203.T"


@pytest.mark.parametrize("symbol", ["130A", "130a", "130A.T"])
def test_recommendation_alphanumeric_code(client: TestClient, symbol: str) -> None:
    body = client.get(f"/api/v1/recommendation/{symbol}", headers=READER).json()

    assert body["code"] == "130A"


def test_recommendation_rank_is_rank_in_universe(client: TestClient) -> None:
    ranking = client.get("/api/v1/recommendations?top_n=50", headers=READER).json()["report"]

    for expected in ranking["recommendations"]:
        single = client.get(f"/api/v1/recommendation/{expected['code']}", headers=READER).json()
        assert single == expected


@pytest.mark.parametrize(
    "symbol", ["72O3", "ABCD", "7203.X", "12345", "0203", "7203%20", "%E3%83%88"]
)
def test_invalid_symbol_is_422(client: TestClient, symbol: str) -> None:
    response = client.get(f"/api/v1/recommendation/{symbol}", headers=READER)

    assert response.status_code == 422
    assert response.json()["error"]["parameter"] == "symbol"


def test_symbol_outside_universe_is_404(client: TestClient) -> None:
    response = client.get("/api/v1/recommendation/9999", headers=READER)

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_symbol"


def test_unranked_symbol_is_404_with_reason(
    make_client: Callable[..., TestClient], price_dir: Path
) -> None:
    write_plain_csv(price_dir / "1301.T.csv", make_ohlcv(20, seed=9, start="2024-01-04"))
    universe = price_dir.parent / "symbols.csv"
    universe.write_text(
        universe.read_text(encoding="utf-8") + "1301,1301.T,Kyokuyo\n", encoding="utf-8"
    )
    client = make_client()

    response = client.get("/api/v1/recommendation/1301", headers=READER)

    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "not_ranked"
    assert "insufficient history" in error["message"]


def test_stocks_lists_universe(client: TestClient) -> None:
    response = client.get("/api/v1/stocks", headers=READER)

    body = StockList.model_validate_json(response.content)
    assert body.count == 6
    assert {s.code for s in body.stocks} == {"7203", "6758", "9984", "130A", "8306", "4063"}
    assert "トヨタ自動車" in {s.name for s in body.stocks}


def test_stock_data_matches_cli_json(
    client: TestClient, write_config: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(name="cli.toml")
    assert (
        main(["--config", str(config), "data", "130A", "--period", "3mo", "--format", "json"]) == 0
    )
    cli_data = json.loads(capsys.readouterr().out)

    response = client.get("/api/v1/stock/130a.T/data?period=3mo", headers=READER)

    assert response.status_code == 200
    assert response.json() == cli_data


@pytest.mark.parametrize("period", ["1mo", "3mo", "6mo", "1y", "2y", "5y", "max"])
def test_stock_data_periods(client: TestClient, period: str) -> None:
    response = client.get(f"/api/v1/stock/7203/data?period={period}", headers=READER)

    data = StockData.model_validate_json(response.content)
    assert data.period == period
    assert data.indicators.sma20 is not None
    assert data.bars[-1].date == data.as_of


def test_stock_data_default_period_is_one_year(client: TestClient) -> None:
    data = client.get("/api/v1/stock/7203/data", headers=READER).json()

    assert data["period"] == "1y"


def test_stock_data_invalid_period_lists_accepted(client: TestClient) -> None:
    response = client.get("/api/v1/stock/7203/data?period=10y", headers=READER)

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["parameter"] == "period"
    assert error["accepted"] == ["1mo", "3mo", "6mo", "1y", "2y", "5y", "max"]


def test_stock_data_unknown_symbol_is_404_without_path(client: TestClient, price_dir: Path) -> None:
    response = client.get("/api/v1/stock/9999/data", headers=READER)

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_symbol"
    assert str(price_dir) not in response.text


def test_health_needs_no_key(client: TestClient) -> None:
    response = client.get("/api/v1/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ready_reports_components(client: TestClient) -> None:
    response = client.get("/api/v1/ready")

    body = ReadinessResponse.model_validate_json(response.content)
    assert body.components == {
        "data_source": "ok",
        "cache": "off",
        "predictors": "ok",
        "auth": "ok",
        "rate_limiter": "ok",
    }
    assert body.ranking_cached is False
    client.get("/api/v1/recommendations", headers=READER)
    assert client.get("/api/v1/ready").json()["ranking_cached"] is True


def test_openapi_needs_no_key(client: TestClient) -> None:
    response = client.get("/api/v1/openapi.json")

    assert response.status_code == 200
    assert response.json()["openapi"].startswith("3.")


def test_cache_clear_admin_only(client: TestClient) -> None:
    client.get("/api/v1/recommendations", headers=READER)

    as_reader = client.delete("/api/v1/cache", headers=READER)
    as_admin = client.delete("/api/v1/cache", headers=auth(ADMIN_KEY))

    assert as_reader.status_code == 403
    assert as_admin.status_code == 200
    assert as_admin.json() == {"removed": 0, "memory_entries_removed": 1}
    assert client.get("/api/v1/ready").json()["ranking_cached"] is False


def test_admin_key_reads_data(client: TestClient) -> None:
    assert client.get("/api/v1/stocks", headers=auth(ADMIN_KEY)).status_code == 200


def test_head_request_has_no_body(client: TestClient) -> None:
    response = client.head("/api/v1/health")

    assert response.status_code == 200
    assert response.content == b""
