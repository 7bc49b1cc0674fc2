"""Fit the pooled HistGradientBoostingRegressor and measure it on a time-ordered holdout."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.metrics import mean_absolute_error, r2_score

from clstock_core.evaluation.metrics import rank_ic_by_group, t_statistic
from clstock_core.prices import PricePanel
from clstock_ml.dataset import Dataset, DatasetSpec, build_dataset, date_range, time_split
from clstock_ml.features import FEATURE_NAMES, FEATURE_SET_VERSION, feature_fingerprint
from clstock_ml.model_file import ModelMetadata, TrainedModel, ValidationMetrics, current_versions
from clstock_ml.settings import MlSettings

logger = logging.getLogger(__name__)

#: Called with a stage description as training moves on.
StageCallback = Callable[[str], None]

#: Rows used to measure the spread of the model's predictions.
SCALE_SAMPLE_ROWS = 200_000


def dataset_spec(settings: MlSettings) -> DatasetSpec:
    return DatasetSpec(
        horizon=settings.horizon_days,
        min_history=settings.min_history,
        target=settings.target,
        target_clip=settings.target_clip,
        start=settings.train_start,
        end=settings.train_end,
        max_rows=settings.max_train_rows,
        seed=settings.seed,
    )


def train_model(
    panel: PricePanel,
    settings: MlSettings,
    *,
    validation_fraction: float | None = None,
    stage: StageCallback | None = None,
) -> TrainedModel:
    """Train a model on ``panel`` with ``settings`` and return it with its metadata.

    With a validation fraction above 0 the model is first fitted on the
    earlier dates and scored on the later ones; with ``refit_on_all`` it is
    then refitted on all rows.
    """
    report = stage or (lambda message: None)
    fraction = settings.validation_fraction if validation_fraction is None else validation_fraction
    if settings.train_end is not None:
        # Cut the panel itself, so that no target reaches past the window.
        panel = panel.until(settings.train_end)

    report(f"computing {len(FEATURE_NAMES)} features for {len(panel)} symbols")
    dataset = build_dataset(panel, dataset_spec(settings))

    validation = None
    estimator = None
    if fraction > 0:
        training, holdout = time_split(dataset, fraction, settings.horizon_days)
        report(f"fitting on {len(training):,} rows, validating on {len(holdout):,} later rows")
        estimator = _fit(training, settings)
        validation = _validate(estimator, holdout, settings.horizon_days)
        report(
            f"validation {validation.start} to {validation.end}: "
            f"rank IC {validation.rank_ic_mean:+.4f} "
            f"(t = {validation.rank_ic_t:.2f}), R^2 {validation.r2:+.4f}"
        )
    if estimator is None or settings.refit_on_all:
        report(f"fitting on all {len(dataset):,} rows")
        estimator = _fit(dataset, settings)

    metadata = _metadata(estimator, dataset, settings, validation)
    return TrainedModel(estimator=estimator, metadata=metadata)


def _fit(dataset: Dataset, settings: MlSettings) -> HistGradientBoostingRegressor:
    features = dataset.features
    empty = np.isnan(features).all(axis=0)
    if empty.any():
        # scikit-learn 1.9 cannot bin a feature without a single value (short
        # histories lack the 250-bar features). A constant column is never
        # split on, so the model ignores it, as intended.
        logger.info(
            "no values for %s; the model ignores them",
            [FEATURE_NAMES[i] for i in np.flatnonzero(empty)],
        )
        features = features.copy()
        features[:, empty] = 0.0

    estimator = HistGradientBoostingRegressor(**settings.estimator_params())  # type: ignore[arg-type]
    estimator.fit(features, dataset.target)
    return estimator


def _validate(
    estimator: HistGradientBoostingRegressor, holdout: Dataset, horizon: int
) -> ValidationMetrics:
    predictions = estimator.predict(holdout.features)
    ic = rank_ic_by_group(holdout.dates, predictions, holdout.target).sort_index()
    start, end = date_range(holdout)
    return ValidationMetrics(
        start=start,
        end=end,
        rows=len(holdout),
        dates=int(ic.notna().sum()),
        rank_ic_mean=float(ic.mean()),
        # Daily ICs of horizon-day returns overlap by horizon - 1 days.
        rank_ic_t=t_statistic(ic, lags=horizon - 1),
        r2=float(r2_score(holdout.target, predictions)),
        mean_absolute_error=float(mean_absolute_error(holdout.target, predictions)),
    )


def _metadata(
    estimator: HistGradientBoostingRegressor,
    dataset: Dataset,
    settings: MlSettings,
    validation: ValidationMetrics | None,
) -> ModelMetadata:
    center, scale = _prediction_spread(estimator, dataset, settings.seed)
    start, end = date_range(dataset)
    versions = current_versions()
    return ModelMetadata(
        feature_set_version=FEATURE_SET_VERSION,
        features=list(FEATURE_NAMES),
        feature_fingerprint=list(feature_fingerprint()),
        horizon_days=settings.horizon_days,
        target=settings.target,
        target_clip=settings.target_clip,
        min_history=settings.min_history,
        train_start=start,
        train_end=end,
        trained_at=dt.datetime.now(dt.UTC),
        training_rows=len(dataset),
        symbols=len(np.unique(dataset.symbols)),
        data_sha256=dataset.digest(),
        estimator_params=settings.estimator_params(),
        prediction_center=center,
        prediction_scale=scale,
        validation=validation,
        sklearn_version=versions["sklearn_version"],
        skops_version=versions["skops_version"],
    )


def _prediction_spread(
    estimator: HistGradientBoostingRegressor, dataset: Dataset, seed: int
) -> tuple[float, float]:
    rows = np.arange(len(dataset))
    if len(rows) > SCALE_SAMPLE_ROWS:
        rows = np.random.default_rng(seed).choice(rows, size=SCALE_SAMPLE_ROWS, replace=False)
    predictions = estimator.predict(dataset.features[rows])
    center = float(np.median(predictions))
    scale = float(np.std(predictions))
    # A model that predicts one constant (e.g. too few rows to split) gets a
    # nominal scale so that scores stay finite; every score is then 50.
    return center, scale if scale > 1e-9 else 1.0
