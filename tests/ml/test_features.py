"""Features and targets: shape, causality, gaps and agreement with the technical predictor."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from clstock_ml.dataset import DatasetSpec, build_dataset, time_split
from clstock_ml.features import (
    FEATURE_NAMES,
    PREDICT_WINDOW,
    BarLayout,
    PriceMatrices,
    feature_matrices,
    feature_table,
    latest_features,
)
from clstock_technical.predictor import TechnicalPredictor, TechnicalSettings

from clstock_core.prices import PricePanel
from tests.ml.conftest import real_panel
from tests.ml.synthetic import planted_frame


def assert_same_features(left: pd.DataFrame, right: pd.DataFrame) -> None:
    assert left["symbol"].tolist() == right["symbol"].tolist()
    assert (left["date"].to_numpy() == right["date"].to_numpy()).all()
    a = left[list(FEATURE_NAMES)].to_numpy()
    b = right[list(FEATURE_NAMES)].to_numpy()
    same = (a == b) | (np.isnan(a) & np.isnan(b))
    differing = [FEATURE_NAMES[i] for i in np.flatnonzero(~same.all(axis=0))]
    assert differing == []


def test_feature_matrices_follow_declared_names(panel):
    layout = BarLayout(panel.frame)
    prices = PriceMatrices.from_frame(panel.frame, layout)
    names = [name for name, _ in feature_matrices(prices, layout)]
    assert tuple(names) == FEATURE_NAMES


def test_features_ignore_later_bars(panel):
    cut = pd.Timestamp(panel.frame["date"].sort_values().unique()[300])
    full = feature_table(panel)
    truncated = feature_table(panel.until(cut))
    assert_same_features(full[full["date"] <= cut].reset_index(drop=True), truncated)


@pytest.mark.realdata
def test_features_ignore_later_bars_on_real_data(real_data_dir):
    panel = real_panel(real_data_dir, 30)
    assert len(panel) == 30

    full = feature_table(panel)
    for cut in (pd.Timestamp("2017-03-31"), pd.Timestamp("2021-09-30")):
        truncated = feature_table(panel.until(cut))
        assert len(truncated) > 1000
        assert_same_features(full[full["date"] <= cut].reset_index(drop=True), truncated)


def test_missing_session_does_not_blank_rolling_windows():
    frame = planted_frame(symbols=3, days=300)
    gap_date = frame["date"].unique()[200]
    frame = frame[~((frame["symbol"] == "1000.T") & (frame["date"] == gap_date))]
    table = feature_table(PricePanel.from_long(frame))

    after_gap = table[(table["symbol"] == "1000.T") & (table["date"] > gap_date)].head(30)
    for name in ("dist_sma20", "dist_sma200", "ret_60", "vol_20", "rsi14", "technical_score"):
        assert after_gap[name].notna().all(), name


def test_latest_features_match_full_history(panel):
    latest = latest_features(panel)
    full = feature_table(panel).groupby("symbol").tail(1).set_index("symbol")
    expected = full.loc[latest.symbols, list(FEATURE_NAMES)].to_numpy()
    np.testing.assert_allclose(latest.values, expected, rtol=1e-5, atol=1e-6)
    assert latest.bar_counts.tolist() == panel.bar_counts.tolist()


def test_latest_features_window_covers_longest_lookback():
    frame = planted_frame(symbols=2, days=PREDICT_WINDOW + 100)
    panel = PricePanel.from_long(frame)
    latest = latest_features(panel)
    assert np.isfinite(latest.values).all()


def test_technical_score_feature_matches_predictor(panel):
    latest = latest_features(panel)
    column = FEATURE_NAMES.index("technical_score")
    scores = TechnicalPredictor(TechnicalSettings()).predict(panel).scores["score"]
    np.testing.assert_allclose(
        latest.values[:, column], scores.loc[latest.symbols].to_numpy(), atol=1e-3
    )


def test_targets_end_before_panel_end(panel):
    sessions = np.sort(panel.frame["date"].unique())
    cut = pd.Timestamp(sessions[400])
    dataset = build_dataset(panel.until(cut), DatasetSpec(horizon=20, min_history=60, target="raw"))
    # A bar's target needs the close 20 bars later, so the last usable bar is
    # 20 sessions before the cut.
    assert dataset.dates.max() == sessions[380]


def test_raw_target_is_next_open_to_close(panel):
    dataset = build_dataset(
        panel, DatasetSpec(horizon=20, min_history=60, target="raw", target_clip=10)
    )
    row = 123
    symbol, date = dataset.symbols[row], pd.Timestamp(dataset.dates[row])
    history = panel.history(symbol)
    factor = history["adj_close"] / history["close"]
    position = history.index.get_loc(date)
    entry = history["open"].iloc[position + 1] * factor.iloc[position + 1]
    exit_ = history["adj_close"].iloc[position + 20]
    assert dataset.target[row] == pytest.approx(exit_ / entry - 1, rel=1e-5)


def test_excess_target_is_demeaned_per_date(panel):
    dataset = build_dataset(
        panel, DatasetSpec(horizon=20, min_history=60, target="excess", target_clip=10)
    )
    means = pd.Series(dataset.target).groupby(dataset.dates).mean()
    assert means.abs().max() < 1e-6


def test_subsample_is_seeded_and_bounded(panel):
    spec = DatasetSpec(horizon=20, min_history=60, max_rows=5000, seed=3)
    first = build_dataset(panel, spec)
    second = build_dataset(panel, spec)
    assert len(first) == 5000
    assert first.digest() == second.digest()
    other = build_dataset(panel, DatasetSpec(horizon=20, min_history=60, max_rows=5000, seed=4))
    assert other.digest() != first.digest()


def test_time_split_leaves_gap_before_validation(panel):
    dataset = build_dataset(panel, DatasetSpec(horizon=20, min_history=60))
    training, validation = time_split(dataset, 0.2, gap_days=20)
    dates = np.unique(dataset.dates)
    assert training.dates.max() < validation.dates.min()
    gap = np.searchsorted(dates, validation.dates.min()) - np.searchsorted(
        dates, training.dates.max()
    )
    assert gap == 21
