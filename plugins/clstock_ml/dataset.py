"""Training rows: features of past bars and the forward return that followed each."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from clstock_core.errors import PredictionError
from clstock_core.prices import PricePanel
from clstock_ml.features import (
    FEATURE_NAMES,
    BarLayout,
    PriceMatrices,
    feature_matrices,
    forward_returns,
)

logger = logging.getLogger(__name__)

TargetKind = Literal["excess", "raw"]


@dataclass
class Dataset:
    """Feature rows (float32) with their targets, in time order within each part."""

    features: np.ndarray  # (rows, features) float32
    target: np.ndarray  # (rows,) float32
    dates: np.ndarray  # (rows,) datetime64
    symbols: np.ndarray  # (rows,) object

    def __len__(self) -> int:
        return len(self.target)

    def take(self, rows: np.ndarray) -> Dataset:
        return Dataset(self.features[rows], self.target[rows], self.dates[rows], self.symbols[rows])

    def digest(self) -> str:
        """SHA-256 of the feature and target bytes, identifying the training data."""
        hasher = hashlib.sha256()
        hasher.update(np.ascontiguousarray(self.features).data)
        hasher.update(np.ascontiguousarray(self.target).data)
        return hasher.hexdigest()


@dataclass(frozen=True)
class DatasetSpec:
    """Row selection and target definition of a training dataset."""

    horizon: int
    min_history: int
    target: TargetKind = "excess"
    target_clip: float = 0.5
    start: dt.date | None = None
    end: dt.date | None = None
    max_rows: int | None = None
    seed: int = 0


def build_dataset(panel: PricePanel, spec: DatasetSpec) -> Dataset:
    """Build the training rows of ``panel``.

    A row is a bar with at least ``min_history`` bars of history, a date in
    ``[start, end]`` and a known forward return. Bars whose ``horizon`` ends
    after the panel's last bar have no known return and are dropped, so a
    panel cut at a date (:meth:`PricePanel.until`) never trains on outcomes
    after that date. With ``max_rows`` a seeded random subset is kept.
    """
    layout = BarLayout(panel.frame)
    prices = PriceMatrices.from_frame(panel.frame, layout)
    forward = layout.gather(forward_returns(prices, spec.horizon))

    eligible = np.isfinite(forward) & (layout.positions >= spec.min_history - 1)
    if spec.start is not None:
        eligible &= layout.dates >= np.datetime64(spec.start)
    if spec.end is not None:
        eligible &= layout.dates <= np.datetime64(spec.end)
    rows = np.flatnonzero(eligible)
    if len(rows) == 0:
        raise PredictionError(
            f"no training rows: {len(panel)} symbol(s) have no bar with {spec.min_history} bars of "
            f"history and a known {spec.horizon}-day forward return in the training window; "
            f"load more history or widen the window"
        )

    target = _target(forward[rows], layout, rows, spec)
    rows, target = _subsample(rows, target, spec)

    features = np.empty((len(rows), len(FEATURE_NAMES)), dtype="float32")
    for column, (_, matrix) in enumerate(feature_matrices(prices, layout)):
        features[:, column] = layout.gather(matrix, rows)

    logger.debug("built %d training rows from %d symbols", len(rows), len(panel))
    return Dataset(
        features=features,
        target=target.astype("float32"),
        dates=layout.dates[rows],
        symbols=layout.symbols[layout.codes[rows]],
    )


def _target(
    forward: np.ndarray, layout: BarLayout, rows: np.ndarray, spec: DatasetSpec
) -> np.ndarray:
    if spec.target == "excess":
        # The return beyond the average of the stocks trading that day: the
        # ranking needs the cross-section, not the market's direction.
        forward = forward - layout.date_mean(forward, rows)
    return np.clip(forward, -spec.target_clip, spec.target_clip)


def _subsample(
    rows: np.ndarray, target: np.ndarray, spec: DatasetSpec
) -> tuple[np.ndarray, np.ndarray]:
    if spec.max_rows is None or len(rows) <= spec.max_rows:
        return rows, target
    rng = np.random.default_rng(spec.seed)
    keep = np.sort(rng.choice(len(rows), size=spec.max_rows, replace=False))
    logger.info("subsampled %d of %d training rows", spec.max_rows, len(rows))
    return rows[keep], target[keep]


def time_split(dataset: Dataset, fraction: float, gap_days: int) -> tuple[Dataset, Dataset]:
    """Split into an earlier training part and a later validation part.

    The validation part contains the last ``fraction`` of the distinct dates.
    Training rows within ``gap_days`` sessions before it are dropped, because
    their forward returns overlap the validation period.
    """
    dates = np.unique(dataset.dates)
    first_validation = int(len(dates) * (1 - fraction))
    if first_validation <= gap_days or first_validation >= len(dates):
        raise PredictionError(
            f"cannot hold out {fraction:.0%} of {len(dates)} training dates "
            f"with a {gap_days}-session "
            f"gap; train on a longer window or set validation_fraction = 0"
        )
    split = dates[first_validation]
    last_training = dates[first_validation - gap_days - 1]

    training = np.flatnonzero(dataset.dates <= last_training)
    validation = np.flatnonzero(dataset.dates >= split)
    return dataset.take(training), dataset.take(validation)


def date_range(dataset: Dataset) -> tuple[dt.date, dt.date]:
    """First and last date of the rows."""
    return pd.Timestamp(dataset.dates.min()).date(), pd.Timestamp(dataset.dates.max()).date()
