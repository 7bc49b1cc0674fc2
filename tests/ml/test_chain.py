"""The predictor fallback chain with the ml predictor first and technical second."""

from __future__ import annotations

import datetime as dt
import json
import logging

import pandas as pd
import pytest
import skops.io
from clstock_ml.features import FEATURE_NAMES
from clstock_ml.model_file import save_model
from clstock_ml.training import train_model

from clstock_core.app import Application
from clstock_core.errors import ShutdownRequested
from clstock_core.markers import hookimpl
from clstock_core.registry import NoSettings
from clstock_core.roles import Prediction
from tests.helpers import make_ohlcv, write_plain_csv
from tests.ml.conftest import fast_settings
from tests.ml.synthetic import planted_panel


@pytest.fixture
def chain_config(tmp_path, offline_config):
    """The offline config with predictors ["ml", "technical"] and a model path in tmp_path."""
    model_path = tmp_path / "model.skops"
    text = offline_config.read_text(encoding="utf-8")
    text += f"""
[predictors]
use = ["ml", "technical"]
[predictors.ml]
model_path = "{model_path.as_posix()}"
min_history = 60
max_age_days = 30
"""
    offline_config.write_text(text, encoding="utf-8")
    return offline_config


def model_path(config):
    with Application(config, environ={}) as app:
        return app.component("predictors", "ml").settings.model_path


def rank(config):
    with Application(config, environ={}) as app:
        return app.engine.rank(top=50)


def write_changed_metadata(path, trained, **changes):
    metadata = json.loads(trained.metadata.model_dump_json())
    metadata.update(changes)
    skops.io.dump({"metadata": json.dumps(metadata), "estimator": trained.estimator}, path)


def test_trained_model_serves_every_symbol(chain_config, trained):
    save_model(trained, model_path(chain_config))
    report = rank(chain_config)
    assert len(report.recommendations) == 6
    for rec in report.recommendations:
        assert rec.predictor == "ml"
        assert rec.fallback_reason is None
        assert rec.rationale[0].startswith("expected 20-day return")


def test_missing_model_falls_back_to_technical(chain_config, caplog):
    with caplog.at_level(logging.WARNING, logger="clstock_core.engine"):
        report = rank(chain_config)
    assert len(report.recommendations) == 6
    for rec in report.recommendations:
        assert rec.predictor == "technical"
        assert rec.fallback_reason.startswith("ml: no trained model at ")
        assert "clstock --config" in rec.fallback_reason
        assert "train" in rec.fallback_reason
    assert "predictor 'ml' could not score the universe: no trained model" in caplog.text


def test_stale_model_falls_back(chain_config, trained):
    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=45)
    write_changed_metadata(model_path(chain_config), trained, trained_at=old.isoformat())
    report = rank(chain_config)
    assert {rec.predictor for rec in report.recommendations} == {"technical"}
    reason = report.recommendations[0].fallback_reason
    assert "is stale: trained 45 days ago" in reason
    assert "max_age_days is 30" in reason


def test_wrong_feature_list_falls_back(chain_config, trained):
    write_changed_metadata(model_path(chain_config), trained, features=list(FEATURE_NAMES[1:]))
    report = rank(chain_config)
    assert {rec.predictor for rec in report.recommendations} == {"technical"}
    reason = report.recommendations[0].fallback_reason
    assert "built with feature set" in reason
    assert "missing ['ret_1']" in reason


def test_short_history_symbol_falls_back_alone(chain_config, price_dir, trained, caplog):
    save_model(trained, model_path(chain_config))
    write_plain_csv(price_dir / "9984.T.csv", make_ohlcv(59, seed=5))
    with caplog.at_level(logging.INFO, logger="clstock_core.engine"):
        report = rank(chain_config)

    by_symbol = {rec.symbol: rec for rec in report.recommendations}
    skipped = {item.symbol: item.reason for item in report.skipped}
    assert {by_symbol[s].predictor for s in by_symbol} == {"ml"}
    # 59 bars are too few for both predictors: skipped with both reasons.
    assert "ml: insufficient history: 59 trading days, at least 60 needed" in skipped["9984.T"]
    assert "technical: insufficient history: 59 trading days" in skipped["9984.T"]
    assert "predictor 'ml' did not score 1 of 6 symbol(s), e.g. 9984.T" in caplog.text


def test_symbol_ml_cannot_serve_is_served_by_technical(chain_config, price_dir):
    # The model's own min_history (100) decides which symbols it can score.
    model = train_model(
        planted_panel(symbols=10, days=300), fast_settings(validation_fraction=0, min_history=100)
    )
    save_model(model, model_path(chain_config))
    write_plain_csv(price_dir / "9984.T.csv", make_ohlcv(80, seed=5))
    report = rank(chain_config)

    by_symbol = {rec.symbol: rec for rec in report.recommendations}
    assert by_symbol["9984.T"].predictor == "technical"
    assert by_symbol["9984.T"].fallback_reason == (
        "ml: insufficient history: 80 trading days, at least 100 needed by the ml model"
    )
    assert by_symbol["7203.T"].predictor == "ml"
    assert by_symbol["7203.T"].fallback_reason is None


class BrokenPredictor:
    name = "broken"

    def predict(self, panel):
        raise RuntimeError("bug inside the predictor")


class MalformedPredictor:
    name = "malformed"

    def predict(self, panel):
        return Prediction(scores=pd.DataFrame({"value": [1.0]}, index=[panel.symbols[0]]))


class TextScorePredictor:
    name = "text"

    def predict(self, panel):
        return Prediction(
            scores=pd.DataFrame({"score": ["high"] * len(panel)}, index=panel.symbols)
        )


class StoppingPredictor:
    name = "stopping"

    def predict(self, panel):
        raise ShutdownRequested("SIGINT", 130)


class FaultyPlugin:
    @hookimpl
    def clstock_register_predictors(self, register):
        register("broken", lambda settings, app: BrokenPredictor(), settings=NoSettings)
        register("malformed", lambda settings, app: MalformedPredictor(), settings=NoSettings)
        register("stopping", lambda settings, app: StoppingPredictor(), settings=NoSettings)
        register("text", lambda settings, app: TextScorePredictor(), settings=NoSettings)


def faulty_rank(config, use):
    environ = {"CLSTOCK_PREDICTORS__USE": use}
    with Application(config, environ=environ, extra_plugins=[("faulty", FaultyPlugin())]) as app:
        return app.engine.rank(top=50)


def test_predictor_bug_falls_back_and_logs_traceback(offline_config, caplog):
    with caplog.at_level(logging.ERROR, logger="clstock_core.engine"):
        report = faulty_rank(offline_config, '["broken", "technical"]')
    assert {rec.predictor for rec in report.recommendations} == {"technical"}
    assert report.recommendations[0].fallback_reason == "broken: internal error (RuntimeError)"
    assert "bug inside the predictor" in caplog.text


def test_malformed_prediction_falls_back(offline_config):
    report = faulty_rank(offline_config, '["malformed", "technical"]')
    assert {rec.predictor for rec in report.recommendations} == {"technical"}
    assert "malformed: invalid prediction" in report.recommendations[0].fallback_reason
    assert "'score' column" in report.recommendations[0].fallback_reason


def test_non_numeric_scores_fall_back(offline_config):
    report = faulty_rank(offline_config, '["text", "technical"]')
    assert {rec.predictor for rec in report.recommendations} == {"technical"}
    assert (
        "text: invalid prediction: the 'score' column has dtype"
        in report.recommendations[0].fallback_reason
    )


def test_stop_request_is_not_a_fallback(offline_config):
    with pytest.raises(ShutdownRequested):
        faulty_rank(offline_config, '["stopping", "technical"]')
