"""The example ``momentum`` predictor of examples/clstock-momentum, in-process."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from clstock_core.app import Application
from clstock_core.errors import ConfigError
from clstock_core.prices import PricePanel, normalize_history
from tests.helpers import make_ohlcv

EXAMPLE_SRC = Path(__file__).resolve().parents[2] / "examples" / "clstock-momentum" / "src"
BUNDLED_ONLY = {"CLSTOCK_DISABLE_PLUGIN_AUTOLOAD": "1"}


@pytest.fixture
def momentum(monkeypatch: pytest.MonkeyPatch):
    """The example plugin's modules, importable from the source tree."""
    monkeypatch.syspath_prepend(str(EXAMPLE_SRC))
    import clstock_momentum
    from clstock_momentum import predictor

    return clstock_momentum, predictor


def _panel(frames: dict[str, pd.DataFrame]) -> PricePanel:
    return PricePanel.from_histories({t: normalize_history(f, t) for t, f in frames.items()})


def _universe(count: int = 8, days: int = 300) -> dict[str, pd.DataFrame]:
    drifts = [0.0015 * (i - count / 2) for i in range(count)]
    return {f"{1000 + i}.T": make_ohlcv(days, seed=i, drift=d) for i, d in enumerate(drifts)}


def _return_12_1(frame: pd.DataFrame) -> float:
    """The 252-to-21-day return of one stock, computed alone with pandas."""
    return frame["adj_close"].iloc[-22] / frame["adj_close"].iloc[-253] - 1


def test_scores_rank_12_1_returns(momentum):
    _, predictor = momentum
    frames = _universe()
    prediction = predictor.MomentumPredictor(predictor.MomentumSettings()).predict(_panel(frames))

    expected_order = sorted(frames, key=lambda t: _return_12_1(frames[t]))
    actual_order = prediction.scores["score"].sort_values().index.tolist()
    assert actual_order == expected_order
    assert np.allclose(sorted(prediction.scores["score"]), np.linspace(0, 100, len(frames)))
    assert prediction.failures == {}


def test_confidence_and_rationale(momentum):
    _, predictor = momentum
    frames = _universe()
    prediction = predictor.MomentumPredictor(predictor.MomentumSettings()).predict(_panel(frames))

    confidence = prediction.scores["confidence"]
    assert ((confidence >= 0.25) & (confidence <= 1)).all()
    best = prediction.scores["score"].idxmax()
    lines = prediction.rationale[best]
    assert lines[0] == f"return {_return_12_1(frames[best]):+.1%} from 252 to 21 trading days ago"
    assert lines[1] == f"momentum ranks 1 of {len(frames)} (percentile 100)"
    assert lines[2].endswith("of 11 monthly returns in that window agree in sign")


def test_recent_month_is_skipped(momentum):
    _, predictor = momentum
    frames = _universe()
    model = predictor.MomentumPredictor(predictor.MomentumSettings())
    before = model.predict(_panel(frames)).scores["score"]
    weakest = before.idxmin()

    # A surge inside the skipped month must not move the score.
    surged = frames[weakest].copy()
    surged.iloc[-21:, :5] *= 100
    after_skip = model.predict(_panel({**frames, weakest: surged})).scores["score"]
    assert after_skip.equals(before)

    # The same surge one bar earlier is inside the window and moves it to the top.
    surged.iloc[-22, :5] *= 100
    after_window = model.predict(_panel({**frames, weakest: surged})).scores["score"]
    assert after_window[weakest] == 100.0


def test_short_history_is_failure(momentum):
    _, predictor = momentum
    frames = {**_universe(3), "9999.T": make_ohlcv(200, seed=9)}
    prediction = predictor.MomentumPredictor(predictor.MomentumSettings()).predict(_panel(frames))

    assert "9999.T" not in prediction.scores.index
    reason = "insufficient history: 200 trading days, at least 253 needed"
    assert prediction.failures == {"9999.T": reason}
    assert sorted(prediction.scores["score"]) == [0.0, 50.0, 100.0]


def test_single_stock_scores_50(momentum):
    _, predictor = momentum
    model = predictor.MomentumPredictor(predictor.MomentumSettings())
    prediction = model.predict(_panel(_universe(1)))
    assert prediction.scores["score"].tolist() == [50.0]


def test_empty_panel_scores_nothing(momentum):
    _, predictor = momentum
    model = predictor.MomentumPredictor(predictor.MomentumSettings())
    prediction = model.predict(PricePanel.empty())
    assert prediction.scores.empty


def test_adjusted_close_preferred(momentum):
    _, predictor = momentum
    rising = make_ohlcv(300, seed=1, drift=0.002)
    rising["adj_close"] = rising["close"]
    # A 2-for-1 split halves the unadjusted prices mid-window.
    rising.iloc[150:, :4] /= 2
    flat = make_ohlcv(300, seed=2, drift=0.0)
    flat["adj_close"] = flat["close"]

    prediction = predictor.MomentumPredictor(predictor.MomentumSettings()).predict(
        _panel({"1111.T": rising, "2222.T": flat})
    )
    assert prediction.scores.at["1111.T", "score"] == 100.0


def test_close_used_without_adjusted(momentum):
    _, predictor = momentum
    frames = _universe(4)
    # One symbol comes from a source without adj_close, so the panel contains NaN there.
    frames["1000.T"] = frames["1000.T"].drop(columns="adj_close")
    prediction = predictor.MomentumPredictor(predictor.MomentumSettings()).predict(_panel(frames))

    def total_return(frame: pd.DataFrame) -> float:
        column = "adj_close" if "adj_close" in frame else "close"
        return frame[column].iloc[-22] / frame[column].iloc[-253] - 1

    expected_order = sorted(frames, key=lambda t: total_return(frames[t]))
    assert prediction.scores["score"].sort_values().index.tolist() == expected_order


def test_consistency_counts_agreeing_months(momentum):
    _, predictor = momentum
    steady = np.exp(np.linspace(0, 0.5, 253))
    jump = np.concatenate([np.ones(200), np.full(53, np.exp(0.5))])
    signals = predictor.momentum_signals(np.column_stack([steady, jump]), skip=21)

    assert signals["months"] == 11
    assert np.allclose(signals["momentum"], [np.exp(0.5 * 231 / 252) - 1, np.exp(0.5) - 1])
    assert signals["consistency"][0] == 1.0
    assert signals["consistency"][1] == pytest.approx(1 / 11)


def test_settings_reject_unknown_key(momentum):
    _, predictor = momentum
    with pytest.raises(ValidationError, match="lookbak_days"):
        predictor.MomentumSettings(lookbak_days=100)


def test_settings_reject_short_window(momentum):
    _, predictor = momentum
    with pytest.raises(ValidationError, match="skip_days \\(40\\) must be at least 21 less"):
        predictor.MomentumSettings(lookback_days=60, skip_days=40)


def _config(tmp_path: Path, offline_config: Path, extra: str) -> Path:
    path = tmp_path / "momentum.toml"
    path.write_text(offline_config.read_text(encoding="utf-8") + extra, encoding="utf-8")
    return path


def test_config_selects_momentum(momentum, tmp_path, offline_config):
    plugin, _ = momentum
    config = _config(
        tmp_path,
        offline_config,
        '\n[predictors]\nuse = ["momentum"]\n'
        "[predictors.momentum]\nlookback_days = 120\nskip_days = 5\n",
    )
    with Application(config, environ=BUNDLED_ONLY, extra_plugins=[("momentum", plugin)]) as app:
        report = app.engine.rank(top=6)

    assert [rec.predictor for rec in report.recommendations] == ["momentum"] * 6
    assert report.recommendations[0].score == 100.0
    assert report.recommendations[0].rationale[0].endswith("from 120 to 5 trading days ago")


def test_config_rejects_misspelled_setting(momentum, tmp_path, offline_config):
    plugin, _ = momentum
    config = _config(
        tmp_path,
        offline_config,
        '\n[predictors]\nuse = ["momentum"]\n[predictors.momentum]\nlookbak_days = 120\n',
    )
    with pytest.raises(ConfigError) as info:
        Application(config, environ=BUNDLED_ONLY, extra_plugins=[("momentum", plugin)])
    message = str(info.value)
    assert "unknown key 'lookbak_days' in [predictors.momentum]" in message
    assert "lookback_days, skip_days" in message


def test_short_history_falls_back_to_technical(momentum, tmp_path, offline_config):
    plugin, _ = momentum
    config = _config(
        tmp_path,
        offline_config,
        '\n[predictors]\nuse = ["momentum", "technical"]\n'
        "[predictors.momentum]\nlookback_days = 280\n",
    )
    with Application(config, environ=BUNDLED_ONLY, extra_plugins=[("momentum", plugin)]) as app:
        report = app.engine.rank(top=6)

    # 300 bars cover a 280-day lookback, so every stock gets a momentum score.
    assert {rec.predictor for rec in report.recommendations} == {"momentum"}

    config.write_text(config.read_text(encoding="utf-8").replace("280", "400"), encoding="utf-8")
    with Application(config, environ=BUNDLED_ONLY, extra_plugins=[("momentum", plugin)]) as app:
        report = app.engine.rank(top=6)

    assert {rec.predictor for rec in report.recommendations} == {"technical"}
    reason = report.recommendations[0].fallback_reason
    assert reason == "momentum: insufficient history: 300 trading days, at least 401 needed"
