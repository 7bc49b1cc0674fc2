"""Training, and the skops model file: round trip, trust checks and compatibility."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest
import sklearn
import skops.io
from clstock_ml.features import FEATURE_NAMES, feature_fingerprint
from clstock_ml.model_file import (
    FORMAT_VERSION,
    ModelFileError,
    check_fresh,
    load_model,
    save_model,
)
from clstock_ml.training import train_model

from tests.ml.conftest import fast_settings

HINT = "retrain it with 'clstock train'"


class NotAModel:
    """A type no model file contains; skops does not trust it."""

    def __init__(self) -> None:
        self.value = 1


def write_payload(path, trained, **metadata_changes):
    metadata = json.loads(trained.metadata.model_dump_json())
    metadata.update(metadata_changes)
    skops.io.dump({"metadata": json.dumps(metadata), "estimator": trained.estimator}, path)


def test_model_learns_planted_signal(trained):
    validation = trained.metadata.validation
    assert validation is not None
    assert validation.rank_ic_mean > 0.1
    assert validation.rank_ic_t > 2
    assert validation.rows > 1000


def test_metadata_records_training(trained, panel):
    metadata = trained.metadata
    assert metadata.features == list(FEATURE_NAMES)
    assert metadata.horizon_days == 20
    assert metadata.sklearn_version == sklearn.__version__
    assert len(metadata.data_sha256) == 64
    assert metadata.symbols == len(panel)
    assert metadata.train_start < metadata.train_end
    assert metadata.prediction_scale > 0
    assert metadata.trained_at.tzinfo is not None


def test_training_window_cuts_panel(panel):
    dates = np.sort(panel.frame["date"].unique())
    end = dates[300].astype("datetime64[D]").item()
    model = train_model(panel, fast_settings(train_end=end, validation_fraction=0))
    # Targets need 20 later bars, all on or before the window's end.
    assert model.metadata.train_end == dates[280].astype("datetime64[D]").item()
    assert model.metadata.validation is None


def test_same_data_gives_same_hash(panel):
    first = train_model(panel, fast_settings(validation_fraction=0, max_iter=5))
    second = train_model(panel, fast_settings(validation_fraction=0, max_iter=5))
    assert first.metadata.data_sha256 == second.metadata.data_sha256


def test_round_trip_keeps_predictions(tmp_path, trained):
    path = tmp_path / "models" / "model.skops"
    save_model(trained, path)
    loaded = load_model(path, hint=HINT)

    assert loaded.metadata == trained.metadata
    rows = np.random.default_rng(0).normal(size=(50, len(FEATURE_NAMES))).astype("float32")
    np.testing.assert_array_equal(loaded.estimator.predict(rows), trained.estimator.predict(rows))
    assert not list(path.parent.glob("*.tmp"))


def test_missing_file_names_train_command(tmp_path):
    with pytest.raises(ModelFileError, match="no trained model .*clstock train"):
        load_model(tmp_path / "absent.skops", hint=HINT)


def test_garbage_file_is_rejected(tmp_path):
    path = tmp_path / "model.skops"
    path.write_bytes(b"not a zip archive")
    with pytest.raises(ModelFileError, match="cannot read model file .*clstock train"):
        load_model(path, hint=HINT)


def test_untrusted_type_is_rejected(tmp_path, trained):
    path = tmp_path / "model.skops"
    skops.io.dump({"metadata": trained.metadata.model_dump_json(), "estimator": NotAModel()}, path)
    with pytest.raises(ModelFileError, match="not trusted: .*NotAModel"):
        load_model(path, hint=HINT)


def test_wrong_feature_list_is_rejected(tmp_path, trained):
    path = tmp_path / "model.skops"
    write_payload(path, trained, features=[*FEATURE_NAMES[:-1], "old_feature"])
    with pytest.raises(ModelFileError, match="feature set") as caught:
        load_model(path, hint=HINT)
    message = str(caught.value)
    assert "rel_ret_60" in message
    assert "old_feature" in message
    assert "clstock train" in message


def test_changed_feature_definition_is_rejected(tmp_path, trained):
    # Same names and version, but one feature now computes other values, as
    # when the technical predictor's signals change.
    fingerprint = list(trained.metadata.feature_fingerprint)
    fingerprint[FEATURE_NAMES.index("technical_score")] += 5.0
    path = tmp_path / "model.skops"
    write_payload(path, trained, feature_fingerprint=fingerprint)
    with pytest.raises(ModelFileError, match="feature definitions that differ .*clstock train"):
        load_model(path, hint=HINT)


def test_fingerprint_matches_current_code(trained):
    assert trained.metadata.feature_fingerprint == list(feature_fingerprint())
    assert len(trained.metadata.feature_fingerprint) == 3 * len(FEATURE_NAMES)


def test_other_sklearn_version_is_rejected(tmp_path, trained):
    path = tmp_path / "model.skops"
    write_payload(path, trained, sklearn_version="1.0.2")
    with pytest.raises(ModelFileError, match=r"scikit-learn 1\.0\.2.*clstock train"):
        load_model(path, hint=HINT)


def test_other_format_version_is_rejected(tmp_path, trained):
    path = tmp_path / "model.skops"
    write_payload(path, trained, format_version=FORMAT_VERSION + 1)
    with pytest.raises(ModelFileError, match="format version"):
        load_model(path, hint=HINT)


def test_metadata_without_fingerprint_is_rejected(tmp_path, trained):
    metadata = json.loads(trained.metadata.model_dump_json())
    del metadata["feature_fingerprint"]
    path = tmp_path / "model.skops"
    skops.io.dump({"metadata": json.dumps(metadata), "estimator": trained.estimator}, path)
    with pytest.raises(
        ModelFileError, match=r"invalid metadata \(feature_fingerprint: Field required\)"
    ):
        load_model(path, hint=HINT)


def test_foreign_skops_file_is_rejected(tmp_path, trained):
    path = tmp_path / "model.skops"
    skops.io.dump({"estimator": trained.estimator}, path)
    with pytest.raises(ModelFileError, match="no metadata"):
        load_model(path, hint=HINT)


def test_model_older_than_max_age_is_stale(trained, tmp_path):
    later = trained.metadata.trained_at + dt.timedelta(days=91)
    with pytest.raises(ModelFileError, match="stale: trained 91 days ago"):
        check_fresh(trained.metadata, max_age_days=90, path=tmp_path, hint=HINT, now=later)
    check_fresh(trained.metadata, max_age_days=92, path=tmp_path, hint=HINT, now=later)
