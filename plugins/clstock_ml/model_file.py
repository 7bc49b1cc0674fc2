"""Save and load trained models as skops files, with metadata that is checked on load.

The file contains a dict ``{"metadata": <JSON text>, "estimator": <regressor>}``
written by :func:`skops.io.dump`. Loading never trusts the file blindly: the
types skops does not trust by default must all be on :data:`TRUSTED_TYPES`,
else the file is rejected before anything in it is constructed.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import tempfile
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import sklearn
import skops
import skops.io
from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationError
from sklearn.ensemble import HistGradientBoostingRegressor

from clstock_core.errors import ClStockError, PredictionError
from clstock_ml.features import FEATURE_NAMES, FEATURE_SET_VERSION, feature_fingerprint

logger = logging.getLogger(__name__)

FORMAT = "clstock-ml"
FORMAT_VERSION = 1

#: Types a model file may contain beyond those skops trusts by default: the
#: tree predictors inside a fitted HistGradientBoostingRegressor (checked
#: with scikit-learn 1.9.1 and skops 0.16). Any other type means that
#: 'clstock train' did not write the file.
TRUSTED_TYPES = frozenset({"sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"})


class ModelFileError(PredictionError):
    """The model file is missing, unreadable, incompatible or stale."""

    code = "model_file_error"


class ValidationMetrics(BaseModel):
    """Scores of the model on the time-ordered holdout."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: dt.date
    end: dt.date
    rows: int
    dates: int
    rank_ic_mean: float
    #: Newey-West t-statistic of the daily rank ICs, with horizon - 1 lags.
    rank_ic_t: float
    r2: float
    mean_absolute_error: float


class ModelMetadata(BaseModel):
    """Training data, settings and validation of a model, stored inside the model file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: str = FORMAT
    format_version: int = FORMAT_VERSION
    feature_set_version: int
    features: list[str]
    #: :func:`~clstock_ml.features.feature_fingerprint` when the model was trained.
    feature_fingerprint: list[float]
    horizon_days: int
    target: str
    target_clip: float
    min_history: int
    train_start: dt.date
    train_end: dt.date
    trained_at: AwareDatetime
    training_rows: int
    symbols: int
    data_sha256: str
    sklearn_version: str
    skops_version: str
    estimator_params: dict[str, Any]
    #: Median and standard deviation of the model's predictions on its
    #: training rows; they map a predicted return to the 0-100 score.
    prediction_center: float
    prediction_scale: float
    validation: ValidationMetrics | None = None


@dataclass
class TrainedModel:
    """A fitted regressor with its metadata."""

    estimator: HistGradientBoostingRegressor
    metadata: ModelMetadata


def retrain_hint(config_path: Path | None) -> str:
    """Return the advice to run ``clstock train`` with the same configuration."""
    config = f" --config {config_path}" if config_path else ""
    return f"retrain it with 'clstock{config} train'"


def save_model(model: TrainedModel, path: Path) -> None:
    """Write ``model`` to ``path`` atomically (a temporary file, then a rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"metadata": model.metadata.model_dump_json(), "estimator": model.estimator}

    handle, temporary = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    os.close(handle)
    try:
        skops.io.dump(payload, temporary)
        os.replace(temporary, path)
    except OSError as error:
        Path(temporary).unlink(missing_ok=True)
        raise ClStockError(
            f"cannot write model file {path}: {error}; check the directory is writable"
        ) from None
    logger.info("saved model to %s", path)


def load_model(path: Path, *, hint: str) -> TrainedModel:
    """Load and check a model file; raise :class:`ModelFileError` with ``hint`` when unusable."""
    if not path.is_file():
        raise ModelFileError(f"no trained model at {path}; {hint}")

    untrusted = _untrusted_types(path, hint)
    unexpected = sorted(set(untrusted) - TRUSTED_TYPES)
    if unexpected:
        raise ModelFileError(
            f"model file {path} contains types that are not trusted: {', '.join(unexpected)}; "
            f"use only model files written by 'clstock train' ({hint})"
        )

    payload = _load_payload(path, untrusted, hint)
    metadata = _parse_metadata(payload, path, hint)
    check_compatible(metadata, path=path, hint=hint)

    estimator = payload.get("estimator")
    if not isinstance(estimator, HistGradientBoostingRegressor):
        raise ModelFileError(
            f"model file {path} contains {type(estimator).__name__}, not a "
            f"HistGradientBoostingRegressor; {hint}"
        )
    return TrainedModel(estimator=estimator, metadata=metadata)


def _untrusted_types(path: Path, hint: str) -> list[str]:
    try:
        return skops.io.get_untrusted_types(file=path)
    except (OSError, zipfile.BadZipFile, KeyError, ValueError) as error:
        raise ModelFileError(f"cannot read model file {path}: {error}; {hint}") from None


def _load_payload(path: Path, trusted: list[str], hint: str) -> dict[str, Any]:
    try:
        # A file from another scikit-learn version warns here; the version
        # check below turns that into a clear error instead.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            payload = skops.io.load(path, trusted=trusted)
    # skops rebuilds objects from the file's schema, so a file from another
    # version can fail with almost any exception type. Each one means the
    # same thing to the caller: this file cannot be used, so retrain.
    except Exception as error:  # noqa: BLE001
        logger.debug("loading %s failed", path, exc_info=True)
        raise ModelFileError(
            f"cannot load model file {path} ({type(error).__name__}: {error}); {hint}"
        ) from None
    if not isinstance(payload, dict):
        raise ModelFileError(f"model file {path} is not a ClStock model; {hint}")
    return payload


def _parse_metadata(payload: dict[str, Any], path: Path, hint: str) -> ModelMetadata:
    text = payload.get("metadata")
    if not isinstance(text, str):
        raise ModelFileError(f"model file {path} has no metadata; {hint}")
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as error:
        raise ModelFileError(
            f"model file {path} has unreadable metadata ({error}); {hint}"
        ) from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise ModelFileError(f"model file {path} is not a ClStock model; {hint}")
    if raw.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(
            f"model file {path} has format version {raw.get('format_version')!r}, this ClStock "
            f"reads version {FORMAT_VERSION}; {hint}"
        )
    try:
        return ModelMetadata.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "(all)"
        raise ModelFileError(
            f"model file {path} has invalid metadata ({field}: {first['msg']}); {hint}"
        ) from None


def check_compatible(metadata: ModelMetadata, *, path: Path, hint: str) -> None:
    """Raise :class:`ModelFileError` unless this code can use a model with ``metadata``."""
    if (
        metadata.feature_set_version != FEATURE_SET_VERSION
        or tuple(metadata.features) != FEATURE_NAMES
    ):
        missing = sorted(set(FEATURE_NAMES) - set(metadata.features))
        extra = sorted(set(metadata.features) - set(FEATURE_NAMES))
        raise ModelFileError(
            f"model file {path} was built with feature set {metadata.feature_set_version} "
            f"({len(metadata.features)} features; missing {missing or 'none'}, "
            f"unknown {extra or 'none'}), "
            f"this ClStock computes feature set {FEATURE_SET_VERSION}; {hint}"
        )
    current = np.asarray(feature_fingerprint())
    stored = np.asarray(metadata.feature_fingerprint, dtype="float64")
    # The tolerance absorbs float differences between numpy and pandas builds;
    # a changed definition moves values by far more.
    if stored.shape != current.shape or not np.allclose(stored, current, rtol=1e-4, atol=1e-6):
        raise ModelFileError(
            f"model file {path} was built with feature definitions that differ from this "
            f"ClStock's (its feature fingerprint does not match, e.g. because the technical "
            f"signals changed); {hint}"
        )
    # scikit-learn supports loading a model only with the version that saved it.
    if metadata.sklearn_version != sklearn.__version__:
        raise ModelFileError(
            f"model file {path} was built with scikit-learn {metadata.sklearn_version}, but "
            f"{sklearn.__version__} is installed; {hint}"
        )


def check_fresh(
    metadata: ModelMetadata,
    *,
    max_age_days: int,
    path: Path,
    hint: str,
    now: dt.datetime | None = None,
) -> None:
    """Raise :class:`ModelFileError` when the model was trained more than ``max_age_days`` ago."""
    now = now or dt.datetime.now(dt.UTC)
    age = now - metadata.trained_at
    if age > dt.timedelta(days=max_age_days):
        raise ModelFileError(
            f"model file {path} is stale: trained {age.days} days ago "
            f"on {metadata.trained_at:%Y-%m-%d}, "
            f"[predictors.ml] max_age_days is {max_age_days}; {hint}"
        )


def current_versions() -> dict[str, str]:
    return {"sklearn_version": sklearn.__version__, "skops_version": skops.__version__}
