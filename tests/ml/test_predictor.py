"""The ml predictor: scores, confidence, failures and model loading."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from clstock_ml.model_file import save_model
from clstock_ml.predictor import MlPredictor

from clstock_core.errors import PredictionError
from clstock_core.prices import PricePanel
from clstock_core.roles import Predictor, TrainablePredictor
from tests.ml.conftest import fast_settings
from tests.ml.synthetic import planted_frame

HINT = "retrain it with 'clstock train'"


def test_predictor_follows_protocols(tmp_path):
    predictor = MlPredictor(fast_settings(tmp_path / "m.skops"), hint=HINT)
    assert isinstance(predictor, Predictor)
    assert isinstance(predictor, TrainablePredictor)


def test_scores_follow_expected_return(panel, trained):
    prediction = MlPredictor(fast_settings(), hint=HINT, model=trained).predict(panel)
    scores = prediction.scores

    assert list(scores.columns) == ["score", "confidence", "expected_return"]
    assert len(scores) == len(panel)
    assert scores["score"].between(0, 100).all()
    assert scores["confidence"].between(0.2, 0.8).all()
    ordered = scores.sort_values("expected_return")
    assert ordered["score"].is_monotonic_increasing
    assert prediction.failures == {}


def test_rationale_states_expected_return(panel, trained):
    prediction = MlPredictor(fast_settings(), hint=HINT, model=trained).predict(panel)
    symbol = panel.symbols[0]
    lines = prediction.rationale[symbol]
    expected = prediction.scores.at[symbol, "expected_return"] * 100
    assert lines[0].startswith(f"expected 20-day return {expected:+.1f}% vs the universe average")
    assert any(line.startswith("20-day return") for line in lines)
    assert any(line.startswith("technical score") for line in lines)


def test_short_history_is_a_symbol_failure(trained):
    frame = planted_frame(symbols=5, days=400)
    short = frame["symbol"] == "1004.T"
    frame = frame[~short | (frame["date"] >= frame["date"].unique()[350])]
    prediction = MlPredictor(fast_settings(), hint=HINT, model=trained).predict(
        PricePanel.from_long(frame)
    )

    assert "1004.T" not in prediction.scores.index
    assert prediction.failures["1004.T"] == (
        "insufficient history: 50 trading days, at least 60 needed by the ml model"
    )
    assert len(prediction.scores) == 4


def test_empty_panel_gives_empty_scores(trained):
    prediction = MlPredictor(fast_settings(), hint=HINT, model=trained).predict(PricePanel.empty())
    assert prediction.scores.empty


def test_missing_model_raises_prediction_error(tmp_path, panel):
    predictor = MlPredictor(fast_settings(tmp_path / "absent.skops"), hint=HINT)
    with pytest.raises(
        PredictionError, match="no trained model at .*absent.skops; retrain it with 'clstock train'"
    ):
        predictor.predict(panel)


def test_model_file_is_reloaded_when_replaced(tmp_path, panel, trained):
    path = tmp_path / "model.skops"
    save_model(trained, path)
    predictor = MlPredictor(fast_settings(path), hint=HINT)
    first = predictor.predict(panel).scores

    other = MlPredictor(fast_settings(), hint=HINT).trained_on(
        panel.until(pd.Timestamp("2020-06-30"))
    )
    save_model(other.model(), path)
    second = predictor.predict(panel).scores
    assert not np.allclose(first["expected_return"], second["expected_return"])


def test_horizon_mismatch_is_rejected(tmp_path, panel, trained):
    path = tmp_path / "model.skops"
    save_model(trained, path)
    predictor = MlPredictor(fast_settings(path, horizon_days=40), hint=HINT)
    with pytest.raises(PredictionError, match="excess 20-day return, but .* horizon_days = 40"):
        predictor.predict(panel)


def test_trained_on_uses_only_given_panel(panel):
    cut = pd.Timestamp("2020-06-30")
    predictor = MlPredictor(fast_settings(train_end="2020-12-31"), hint=HINT).trained_on(
        panel.until(cut)
    )
    metadata = predictor.model().metadata
    assert metadata.train_end < cut.date()
    assert metadata.validation is None
