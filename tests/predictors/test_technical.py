"""The technical predictor's scores, confidence, rationale and failures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from clstock_technical.predictor import TechnicalPredictor, TechnicalSettings

from clstock_core.prices import PricePanel
from tests.helpers import make_ohlcv


def panel_of(frames: dict[str, pd.DataFrame]) -> PricePanel:
    return PricePanel.from_histories(frames)


def trending(days: int, daily: float, price: float = 1000.0) -> pd.DataFrame:
    """A trend of ``daily`` log return per day with a loss every third day."""
    frame = make_ohlcv(days, seed=3)
    steps = np.where(np.arange(days) % 3 == 0, -abs(daily), daily + abs(daily))
    close = price * np.exp(np.cumsum(steps))
    frame["close"] = close
    frame["open"] = close
    frame["high"] = close * 1.01
    frame["low"] = close * 0.99
    return frame


@pytest.fixture
def predictor() -> TechnicalPredictor:
    return TechnicalPredictor(TechnicalSettings())


def test_uptrend_scores_above_downtrend(predictor):
    panel = panel_of({"1111.T": trending(200, 0.004), "2222.T": trending(200, -0.004)})
    scores = predictor.predict(panel).scores
    assert scores.at["1111.T", "score"] > 60
    assert scores.at["2222.T", "score"] < 40


def test_scores_and_confidence_in_range(predictor):
    frames = {f"{1000 + i}.T": make_ohlcv(300, seed=i, drift=(i - 10) / 2000) for i in range(20)}
    scores = predictor.predict(panel_of(frames)).scores
    assert scores["score"].between(0, 100).all()
    assert scores["confidence"].between(0, 1).all()
    assert np.isfinite(scores.to_numpy()).all()


def test_short_history_is_a_failure(predictor):
    panel = panel_of({"1111.T": make_ohlcv(59, seed=1), "2222.T": make_ohlcv(60, seed=2)})
    prediction = predictor.predict(panel)
    assert list(prediction.scores.index) == ["2222.T"]
    assert (
        prediction.failures["1111.T"] == "insufficient history: 59 trading days, at least 60 needed"
    )


def test_flat_series_is_neutral_and_finite(predictor):
    frame = make_ohlcv(120, seed=4)
    frame[["open", "high", "low", "close"]] = 500.0
    frame["volume"] = 1000
    scores = predictor.predict(panel_of({"3333.T": frame})).scores
    assert scores.at["3333.T", "score"] == pytest.approx(50.0)
    assert np.isfinite(scores.at["3333.T", "confidence"])


def test_score_independent_of_universe(predictor):
    alone = predictor.predict(panel_of({"1111.T": make_ohlcv(300, seed=7)})).scores
    frames = {f"{2000 + i}.T": make_ohlcv(280 + i, seed=i) for i in range(5)}
    frames["1111.T"] = make_ohlcv(300, seed=7)
    together = predictor.predict(panel_of(frames)).scores
    assert together.at["1111.T", "score"] == pytest.approx(alone.at["1111.T", "score"], abs=1e-9)


def test_overextended_spike_scores_below_steady_trend(predictor):
    steady = trending(200, 0.003)
    spike = trending(200, 0.003)
    spike.iloc[-10:, spike.columns.get_indexer(["open", "high", "low", "close"])] *= np.linspace(
        1.1, 1.6, 10
    )[:, None]
    scores = predictor.predict(panel_of({"1111.T": steady, "2222.T": spike})).scores
    assert scores.at["2222.T", "score"] < scores.at["1111.T", "score"]


def test_rationale_names_signals(predictor):
    prediction = predictor.predict(panel_of({"1111.T": trending(200, 0.004)}))
    lines = prediction.rationale["1111.T"]
    assert any("SMA20" in line for line in lines)
    assert any(line.startswith("RSI(14)") for line in lines)
    assert any("MACD" in line for line in lines)


def test_weights_change_the_score():
    panel = panel_of({"1111.T": make_ohlcv(300, seed=11, drift=0.002)})
    trend_only = TechnicalPredictor(TechnicalSettings(rsi_weight=0, macd_weight=0, volume_weight=0))
    volume_only = TechnicalPredictor(TechnicalSettings(trend_weight=0, rsi_weight=0, macd_weight=0))
    first = trend_only.predict(panel).scores.at["1111.T", "score"]
    second = volume_only.predict(panel).scores.at["1111.T", "score"]
    assert first != pytest.approx(second)


def test_empty_panel(predictor):
    prediction = predictor.predict(PricePanel.empty())
    assert prediction.scores.empty
