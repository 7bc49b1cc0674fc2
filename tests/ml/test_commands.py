"""The train and evaluate commands, end to end."""

from __future__ import annotations

import json

import pytest
from clstock_ml.model_file import load_model
from clstock_parquet.source import ParquetSource

from clstock_core.cli.main import main
from tests.ml.synthetic import planted_frame


def ml_config(tmp_path, directory, universe, cache="none"):
    path = tmp_path / "ml.toml"
    model = tmp_path / "model.skops"
    path.write_text(
        f"""
[data_source]
use = "csv"
[data_source.csv]
directory = "{directory.as_posix()}"
{f'universe_file = "{universe.as_posix()}"' if universe else ""}
[cache]
use = "{cache}"
[predictors]
use = ["ml", "technical"]
[predictors.ml]
model_path = "{model.as_posix()}"
min_history = 60
max_iter = 30
min_samples_leaf = 20
validation_fraction = 0.2
[engine]
history_days = 20000
""",
        encoding="utf-8",
    )
    return path, model


def test_train_writes_model_used_by_recommend(tmp_path, price_dir, capsys):
    config, model = ml_config(tmp_path, price_dir, price_dir.parent / "symbols.csv")

    assert main(["--config", str(config), "train"]) == 0
    output = capsys.readouterr()
    assert f"model: {model}" in output.out
    assert "validation 2" in output.out
    assert "mean rank IC" in output.out
    assert "fitting on" in output.err
    metadata = load_model(model, hint="").metadata
    assert metadata.symbols == 6

    assert main(["--config", str(config), "recommend", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {rec["predictor"] for rec in report["recommendations"]} == {"ml"}


def test_train_window_option(tmp_path, price_dir, capsys):
    config, model = ml_config(tmp_path, price_dir, None)
    code = main(
        ["--config", str(config), "-q", "train", "--start", "2023-05-01", "--end", "2023-12-29"]
    )
    assert code == 0
    assert capsys.readouterr().err == ""
    metadata = load_model(model, hint="").metadata
    assert str(metadata.train_start) >= "2023-05-01"
    assert str(metadata.train_end) <= "2023-12-29"


def test_train_rejects_inverted_window(tmp_path, price_dir, capsys):
    config, _ = ml_config(tmp_path, price_dir, None)
    assert (
        main(["--config", str(config), "train", "--start", "2024-01-01", "--end", "2023-01-01"])
        == 2
    )
    assert (
        "the training window starts on 2024-01-01, after its end on 2023-01-01"
        in capsys.readouterr().err
    )


@pytest.mark.realdata
def test_evaluate_on_real_data(tmp_path, real_data_dir, capsys):
    files = sorted((real_data_dir / "prices").glob("*.csv"))[:30]
    directory = tmp_path / "prices"
    directory.mkdir()
    for path in files:
        (directory / path.name).symlink_to(path)
    config, _ = ml_config(tmp_path, directory, None)
    report_dir = tmp_path / "report"

    code = main(
        [
            "--config",
            str(config),
            "evaluate",
            "--start",
            "2018-01-01",
            "--end",
            "2019-12-31",
            "--top",
            "5",
            "--report-dir",
            str(report_dir),
        ]
    )
    output = capsys.readouterr()
    assert code == 0, output.err

    assert "Walk-forward 2018-01-31 to 2019-12-30: 24 monthly rebalances, 30 symbols" in output.out
    payload = json.loads((report_dir / "evaluation.json").read_text(encoding="utf-8"))
    assert list(payload["strategies"]) == [
        "ml",
        "technical",
        "momentum_12_1",
        "volatility_60",
        "random",
        "equal_weight_universe",
    ]
    assert payload["retrain_dates"] == ["2018-01-31", "2019-01-31"]
    assert payload["command"].startswith(
        f"clstock --config {config} evaluate --start 2018-01-01 --end 2019-12-31"
    )
    for name in ("ml", "technical", "momentum_12_1", "volatility_60", "random"):
        metrics = payload["strategies"][name]["metrics"]
        assert metrics["failed_rebalances"] == 0
        assert -1 <= metrics["rank_ic_mean"] <= 1
        assert metrics["annual_volatility"] > 0
        assert metrics["max_drawdown"] < 0
    for name in ("metrics.csv", "periods.csv", "equity.csv"):
        assert (report_dir / name).stat().st_size > 100
    assert (report_dir / "cumulative_returns.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_train_reads_parquet_in_one_pass(tmp_path, capsys, monkeypatch):
    parquet = tmp_path / "universe.parquet"
    planted_frame(symbols=12, days=300).to_parquet(parquet)
    universe = tmp_path / "symbols.csv"
    universe.write_text(
        "code,symbol,name\n" + "".join(f"{1000 + i},{1000 + i}.T,S{i}\n" for i in range(10))
    )
    config, model = ml_config(tmp_path, tmp_path, None)
    text = config.read_text(encoding="utf-8").replace(
        '[data_source]\nuse = "csv"',
        f'[data_source]\nuse = "parquet"\n[data_source.parquet]\npath = "{parquet.as_posix()}"\n'
        f'universe_file = "{universe.as_posix()}"',
    )
    config.write_text(text, encoding="utf-8")
    fetched = []
    monkeypatch.setattr(ParquetSource, "fetch", lambda self, *args, **kwargs: fetched.append(args))

    assert main(["--config", str(config), "train"]) == 0, capsys.readouterr().err
    assert fetched == []
    # The universe file lists 10 of the 12 stocks in the file.
    assert load_model(model, hint="").metadata.symbols == 10
