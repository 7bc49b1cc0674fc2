"""The ranking engine on synthetic CSV data."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from clstock_core.app import Application
from clstock_core.errors import NoDataError, PredictionError
from clstock_core.markers import hookimpl
from clstock_core.models import Action
from clstock_core.registry import NoSettings
from clstock_core.roles import Prediction


def test_rank_orders_by_score(offline_config):
    with Application(offline_config, environ={}) as app:
        report = app.engine.rank(top=10)
    scores = [rec.score for rec in report.recommendations]
    assert scores == sorted(scores, reverse=True)
    assert [rec.rank for rec in report.recommendations] == list(range(1, len(scores) + 1))
    assert report.universe_size == 6
    assert len(report.recommendations) == 6


def test_recommendation_fields_are_consistent(offline_config):
    with Application(offline_config, environ={}) as app:
        report = app.engine.rank(top=10)
    for rec in report.recommendations:
        assert rec.symbol.endswith(".T")
        assert rec.company_name
        assert 0 <= rec.score <= 100
        assert 0 <= rec.confidence <= 1
        assert rec.rationale
        assert rec.predictor == "technical"
        assert rec.entry_price.low <= rec.entry_price.high
        if rec.action is Action.SELL:
            assert rec.stop_loss > rec.current_price
            assert all(t.price < rec.current_price for t in rec.take_profit)
        else:
            assert rec.stop_loss < rec.current_price
            assert all(t.price > rec.current_price for t in rec.take_profit)
        numbers = [
            rec.current_price,
            rec.stop_loss,
            rec.entry_price.low,
            *(t.price for t in rec.take_profit),
        ]
        assert all(math.isfinite(n) for n in numbers)


def test_letter_code_is_ranked_as_string(offline_config):
    with Application(offline_config, environ={}) as app:
        report = app.engine.rank(top=10)
    codes = {rec.code for rec in report.recommendations}
    assert "130A" in codes


def test_short_history_is_skipped_with_reason(offline_config, price_dir):
    from tests.helpers import make_ohlcv, write_plain_csv

    write_plain_csv(price_dir / "7203.T.csv", make_ohlcv(30, seed=9))
    with Application(offline_config, environ={}) as app:
        report = app.engine.rank(top=10)
    skipped = {item.symbol: item.reason for item in report.skipped}
    assert "insufficient history" in skipped["7203.T"]
    assert "30 trading days" in skipped["7203.T"]
    assert len(report.recommendations) == 5


def test_unreadable_file_is_skipped_not_fatal(offline_config, price_dir):
    (price_dir / "6758.T.csv").write_bytes(b"\x00\xff garbage")
    with Application(offline_config, environ={}) as app:
        report = app.engine.rank(top=10)
    assert "6758.T" in {item.symbol for item in report.skipped}
    assert len(report.recommendations) == 5


class FailingPredictor:
    name = "failing"

    def predict(self, panel):
        raise PredictionError("no trained model; run clstock train")


class PartialPredictor:
    name = "partial"

    def predict(self, panel):
        first = panel.symbols[0]
        return Prediction(
            scores=pd.DataFrame({"score": [77.0], "confidence": [0.9]}, index=[first]),
            rationale={first: ["partial says so"]},
            failures={s: "not covered" for s in panel.symbols[1:]},
        )


class ChainPlugin:
    @hookimpl
    def clstock_register_predictors(self, register):
        register("failing", lambda settings, app: FailingPredictor(), settings=NoSettings)
        register("partial", lambda settings, app: PartialPredictor(), settings=NoSettings)


def chain_app(offline_config, use):
    return Application(
        offline_config,
        environ={"CLSTOCK_PREDICTORS__USE": use},
        extra_plugins=[("chain", ChainPlugin())],
    )


def test_fallback_chain_records_reason(offline_config):
    with chain_app(offline_config, '["failing", "partial", "technical"]') as app:
        report = app.engine.rank(top=10)
    by_predictor = {}
    for rec in report.recommendations:
        by_predictor.setdefault(rec.predictor, []).append(rec)
    assert len(by_predictor["partial"]) == 1
    assert len(by_predictor["technical"]) == 5
    partial = by_predictor["partial"][0]
    assert "failing: no trained model" in partial.fallback_reason
    technical = by_predictor["technical"][0]
    assert "failing: no trained model" in technical.fallback_reason
    assert "partial: not covered" in technical.fallback_reason


def test_every_predictor_failing_skips_with_all_reasons(offline_config):
    with chain_app(offline_config, '["failing", "partial"]') as app:
        report = app.engine.rank(top=10)
    assert len(report.recommendations) == 1
    reasons = [item.reason for item in report.skipped]
    assert len(reasons) == 5
    assert all("failing: no trained model" in r and "partial: not covered" in r for r in reasons)


def test_stock_history_unknown_symbol(offline_config):
    with Application(offline_config, environ={}) as app, pytest.raises(NoDataError, match="9999.T"):
        app.engine.stock_history("9999", None)


def test_closing_app_closes_components_once(offline_config):
    closed = []

    class Closable:
        name = "closable"

        def predict(self, panel):
            raise PredictionError("unused")

        def close(self):
            closed.append(1)

    class Plugin:
        @hookimpl
        def clstock_register_predictors(self, register):
            register("closable", lambda settings, app: Closable(), settings=NoSettings)

    app = Application(
        offline_config,
        environ={"CLSTOCK_PREDICTORS__USE": '["closable", "technical"]'},
        extra_plugins=[("closable", Plugin())],
    )
    app.engine.rank(top=1)
    app.close()
    app.close()
    assert closed == [1]
