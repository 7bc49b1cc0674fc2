"""The ``ml`` predictor: a pooled gradient-boosting model of the forward return."""

from __future__ import annotations

import math
import threading
from pathlib import Path

import numpy as np
import pandas as pd

from clstock_core.prices import PricePanel
from clstock_core.roles import Prediction
from clstock_ml.features import FEATURE_NAMES, LatestFeatures, latest_features
from clstock_ml.model_file import (
    ModelFileError,
    TrainedModel,
    check_fresh,
    load_model,
    retrain_hint,
)
from clstock_ml.settings import MlSettings
from clstock_ml.training import train_model

SCORE_COLUMNS = ["score", "confidence", "expected_return"]
_COLUMN = {name: index for index, name in enumerate(FEATURE_NAMES)}


class MlPredictor:
    """Scores stocks by the forward return a trained model predicts for them.

    The model comes from the model file, or is given in memory by
    :meth:`trained_on` for walk-forward evaluation. The predicted return
    ``r`` maps to ``score = 50 + 50 * tanh(z / 2)`` with
    ``z = (r - median) / std`` of the model's predictions on its training
    rows, so a prediction one spread above the typical one scores about 73.
    Confidence is ``0.2 + 0.6 * tanh(|z|)``: how far the prediction sits from
    the typical one. It is not a probability.
    """

    name = "ml"

    def __init__(
        self, settings: MlSettings, *, hint: str, model: TrainedModel | None = None
    ) -> None:
        self.settings = settings
        self.hint = hint
        self._fixed_model = model
        self._cached: tuple[tuple[Path, int, int], TrainedModel] | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: MlSettings, app: object = None) -> MlPredictor:
        config = getattr(app, "config", None)
        return cls(settings, hint=retrain_hint(getattr(config, "path", None)))

    # -- model ----------------------------------------------------------------

    def model(self) -> TrainedModel:
        """Return the model to score with.

        Raises :class:`ModelFileError` when the file is missing, unusable or stale.
        """
        if self._fixed_model is not None:
            return self._fixed_model

        path = self.settings.resolved_model_path()
        try:
            stat = path.stat()
        except FileNotFoundError:
            raise ModelFileError(f"no trained model at {path}; {self.hint}") from None
        key = (path, stat.st_mtime_ns, stat.st_size)

        with self._lock:
            if self._cached is None or self._cached[0] != key:
                model = load_model(path, hint=self.hint)
                self._check_settings(model, path)
                self._cached = (key, model)
            model = self._cached[1]
        check_fresh(
            model.metadata, max_age_days=self.settings.max_age_days, path=path, hint=self.hint
        )
        return model

    def _check_settings(self, model: TrainedModel, path: Path) -> None:
        metadata = model.metadata
        if (
            metadata.horizon_days != self.settings.horizon_days
            or metadata.target != self.settings.target
        ):
            raise ModelFileError(
                f"model file {path} predicts the {metadata.target} "
                f"{metadata.horizon_days}-day return, "
                f"but [predictors.ml] sets target = {self.settings.target!r} and horizon_days = "
                f"{self.settings.horizon_days}; {self.hint}"
            )

    def trained_on(self, panel: PricePanel) -> MlPredictor:
        """Return a predictor whose model is trained only on ``panel``, without a holdout."""
        # The caller chose the data by cutting the panel; a configured training
        # window would cut it again.
        settings = self.settings.model_copy(update={"train_start": None, "train_end": None})
        model = train_model(panel, settings, validation_fraction=0.0)
        return MlPredictor(self.settings, hint=self.hint, model=model)

    # -- scoring --------------------------------------------------------------

    def predict(self, panel: PricePanel) -> Prediction:
        model = self.model()
        if len(panel) == 0:
            return Prediction(scores=pd.DataFrame(columns=SCORE_COLUMNS))

        latest = latest_features(panel)
        needed = model.metadata.min_history
        enough = latest.bar_counts >= needed
        predicted = model.estimator.predict(latest.values[enough]) if enough.any() else np.empty(0)

        z = (predicted - model.metadata.prediction_center) / model.metadata.prediction_scale
        scores = pd.DataFrame(
            {
                "score": 50 + 50 * np.tanh(z / 2),
                "confidence": 0.2 + 0.6 * np.tanh(np.abs(z)),
                "expected_return": predicted,
            },
            index=latest.symbols[enough],
        )
        failures = {
            str(symbol): (
                f"insufficient history: {count} trading days, "
                f"at least {needed} needed by the ml model"
            )
            for symbol, count in zip(
                latest.symbols[~enough], latest.bar_counts[~enough], strict=True
            )
        }
        rationale = self._rationale(model, latest, enough, predicted)
        return Prediction(scores=scores, rationale=rationale, failures=failures)

    def _rationale(
        self, model: TrainedModel, latest: LatestFeatures, enough: np.ndarray, predicted: np.ndarray
    ) -> dict[str, list[str]]:
        metadata = model.metadata
        relative = " vs the universe average" if metadata.target == "excess" else ""
        trained = f"model trained on {metadata.train_start} to {metadata.train_end}"

        result = {}
        for row, expected in zip(np.flatnonzero(enough), predicted, strict=True):
            values = latest.values[row]
            lines = [
                f"expected {metadata.horizon_days}-day return "
                f"{expected * 100:+.1f}%{relative} ({trained})"
            ]
            lines.extend(_describe_features(values))
            result[str(latest.symbols[row])] = lines
        return result


def _describe_features(values: np.ndarray) -> list[str]:
    """The main inputs of one prediction, in words; missing values are left out."""

    def value(name: str) -> float:
        return float(values[_COLUMN[name]])

    lines = []
    ret20, momentum = value("ret_20"), value("mom_12_1")
    if math.isfinite(ret20):
        text = f"20-day return {ret20 * 100:+.1f}%"
        if math.isfinite(momentum):
            text += f", 12-1 month momentum {momentum * 100:+.1f}%"
        lines.append(text)
    rsi14, volatility = value("rsi14"), value("vol_60")
    if math.isfinite(rsi14) and math.isfinite(volatility):
        lines.append(
            f"RSI(14) {rsi14:.0f}, "
            f"60-day volatility {volatility * math.sqrt(252) * 100:.0f}% a year"
        )
    technical = value("technical_score")
    if math.isfinite(technical):
        lines.append(f"technical score {technical:.0f}")
    return lines
