"""The API over the real TSE price data (skipped without CLSTOCK_DATA_DIR)."""

from __future__ import annotations

from pathlib import Path

import pytest
from clstock_http.asgi import ClStockApi
from starlette.testclient import TestClient

from clstock_core.app import Application
from clstock_core.models import RecommendationsResponse, StockData
from tests.http.conftest import READER_KEY, auth, keys_toml


@pytest.mark.realdata
def test_real_universe_ranking_and_history(real_data_dir: Path, tmp_path: Path) -> None:
    config = tmp_path / "real.toml"
    config.write_text(
        f"""
[data_source]
use = "csv"
[data_source.csv]
directory = "{(real_data_dir / "prices").as_posix()}"
universe_file = "{(real_data_dir / "symbols.csv").as_posix()}"
[cache]
use = "none"
[engine]
history_days = 20000
[frontend.http]
warm_up = false
"""
        + keys_toml(),
        encoding="utf-8",
    )

    with TestClient(ClStockApi(Application(config))) as client:
        ranking = client.get("/api/v1/recommendations?top_n=5", headers=auth(READER_KEY))
        stocks = client.get("/api/v1/stocks", headers=auth(READER_KEY)).json()
        first = stocks["stocks"][0]["code"]
        history = client.get(f"/api/v1/stock/{first}/data?period=6mo", headers=auth(READER_KEY))

    report = RecommendationsResponse.model_validate_json(ranking.content).report
    assert ranking.status_code == 200
    assert len(report.recommendations) == 5
    assert report.universe_size == stocks["count"]
    assert stocks["count"] > 100
    data = StockData.model_validate_json(history.content)
    assert data.bars
    assert data.company_name
