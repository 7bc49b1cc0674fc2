"""Fixtures of the ml predictor tests: a planted-signal panel and fast model settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from clstock_csv.source import CsvSource
from clstock_ml.model_file import TrainedModel
from clstock_ml.settings import MlSettings
from clstock_ml.training import train_model

from clstock_core.prices import PricePanel, normalize_history
from tests.ml.synthetic import planted_panel


def fast_settings(model_path: Path | None = None, **overrides: object) -> MlSettings:
    """Settings that train on the synthetic panel in well under a second."""
    values: dict[str, object] = {
        "model_path": model_path,
        "min_history": 60,
        "max_iter": 40,
        "learning_rate": 0.1,
        "max_leaf_nodes": 8,
        "min_samples_leaf": 50,
        "validation_fraction": 0.2,
    }
    values.update(overrides)
    return MlSettings.model_validate(values)


@pytest.fixture(scope="session")
def panel() -> PricePanel:
    return planted_panel()


@pytest.fixture(scope="session")
def trained(panel: PricePanel) -> TrainedModel:
    return train_model(panel, fast_settings())


def real_panel(data_dir: Path, count: int) -> PricePanel:
    """The first ``count`` stocks (by file name) of the real price directory."""
    files = sorted((data_dir / "prices").glob("*.csv"))[:count]
    tickers = [path.name[: -len(".csv")] for path in files]
    result = CsvSource(data_dir / "prices").fetch(tickers)
    histories = {
        ticker: normalize_history(frame, ticker) for ticker, frame in result.histories.items()
    }
    return PricePanel.from_histories(histories)
