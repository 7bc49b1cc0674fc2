"""Options of the ``ml`` predictor, in the ``[predictors.ml]`` table."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, model_validator

from clstock_ml.dataset import TargetKind

MODEL_FILE_NAME = "ml-model.skops"


def default_model_path() -> Path:
    """``<user data dir>/clstock/models/ml-model.skops`` (platformdirs)."""
    return Path(platformdirs.user_data_dir("clstock", appauthor=False)) / "models" / MODEL_FILE_NAME


class MlSettings(BaseModel):
    """Model file, training window, target and HistGradientBoostingRegressor parameters."""

    model_config = ConfigDict(extra="forbid")

    model_path: Path | None = Field(
        default=None,
        description="Model file written by 'clstock train'; "
        "default: <user data dir>/clstock/models/ml-model.skops",
    )
    max_age_days: int = Field(
        default=90,
        ge=1,
        description="Days after training at which the model is stale and the chain falls back",
    )
    horizon_days: int = Field(
        default=20,
        ge=1,
        le=250,
        description="Holding horizon of the predicted return, in trading days",
    )
    target: TargetKind = Field(
        default="excess",
        description="'excess': forward return minus that day's universe mean "
        "(ranks the cross-section); 'raw': forward return",
    )
    target_clip: float = Field(
        default=0.5,
        gt=0,
        description="Targets are clipped to +/- this fraction, so outliers cannot dominate",
    )
    min_history: int = Field(
        default=130,
        ge=60,
        description="Minimum trading days of history a stock needs to be trained on or scored",
    )
    train_start: dt.date | None = Field(
        default=None, description="First bar date used for training; default: all"
    )
    train_end: dt.date | None = Field(
        default=None, description="Last bar date used for training; default: all"
    )
    validation_fraction: float = Field(
        default=0.15,
        ge=0,
        le=0.5,
        description="Share of the latest training dates held out for validation",
    )
    refit_on_all: bool = Field(
        default=True,
        description="After validating, refit on the training and validation rows together",
    )
    max_train_rows: int = Field(
        default=1_500_000,
        ge=10_000,
        description="Random subsample limit on training rows (memory and time)",
    )
    max_iter: int = Field(default=200, ge=1, le=5000, description="Boosting iterations (trees)")
    learning_rate: float = Field(default=0.05, gt=0, le=1, description="Shrinkage of each tree")
    max_leaf_nodes: int = Field(default=15, ge=2, le=1024, description="Leaves per tree")
    min_samples_leaf: int = Field(default=1000, ge=1, description="Minimum training rows per leaf")
    l2_regularization: float = Field(default=1.0, ge=0, description="L2 penalty on leaf values")
    seed: int = Field(default=0, description="Seed of the row subsample and the estimator")

    @model_validator(mode="after")
    def _check_window(self) -> MlSettings:
        if self.train_start and self.train_end and self.train_start > self.train_end:
            raise ValueError(f"train_start {self.train_start} is after train_end {self.train_end}")
        return self

    def resolved_model_path(self) -> Path:
        return (self.model_path or default_model_path()).expanduser()

    def estimator_params(self) -> dict[str, object]:
        """Keyword arguments of :class:`~sklearn.ensemble.HistGradientBoostingRegressor`."""
        return {
            "loss": "squared_error",
            "max_iter": self.max_iter,
            "learning_rate": self.learning_rate,
            "max_leaf_nodes": self.max_leaf_nodes,
            "min_samples_leaf": self.min_samples_leaf,
            "l2_regularization": self.l2_regularization,
            # The time-ordered holdout replaces sklearn's random early-stopping split,
            # which would leak future rows into validation.
            "early_stopping": False,
            "random_state": self.seed,
        }
