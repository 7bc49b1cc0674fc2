"""The clstock command line: output formats, exit codes, messages."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import pytest

from clstock_core.cli.main import main
from clstock_core.models import RankingReport


def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_recommend_json_is_ranking_report(capsys, offline_config):
    code, out, err = run(
        capsys, "--config", str(offline_config), "recommend", "--top", "3", "--format", "json"
    )
    assert code == 0, err
    report = RankingReport.model_validate_json(out)
    assert len(report.recommendations) == 3
    assert report.recommendations[0].rank == 1


def test_recommend_table_shows_names(capsys, offline_config):
    code, out, _ = run(capsys, "--config", str(offline_config), "recommend", "--top", "6")
    assert code == 0
    assert "トヨタ自動車" in out
    assert "stop" in out
    assert "Why:" in out


def test_recommend_csv_parses(capsys, offline_config):
    code, out, _ = run(capsys, "--config", str(offline_config), "recommend", "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 6
    assert {"rank", "symbol", "stop_loss", "take_profit"} <= set(rows[0])


def test_recommend_single_symbol(capsys, offline_config):
    code, out, _ = run(
        capsys, "--config", str(offline_config), "recommend", "--symbol", "130a", "--format", "json"
    )
    assert code == 0
    report = json.loads(out)
    assert [r["code"] for r in report["recommendations"]] == ["130A"]


def test_stocks_lists_universe(capsys, offline_config):
    code, out, _ = run(capsys, "--config", str(offline_config), "stocks", "--format", "json")
    assert code == 0
    stocks = json.loads(out)
    assert {s["code"] for s in stocks} == {"7203", "6758", "9984", "130A", "8306", "4063"}


def test_data_json(capsys, offline_config):
    code, out, _ = run(
        capsys,
        "--config",
        str(offline_config),
        "data",
        "7203.T",
        "--period",
        "3mo",
        "--format",
        "json",
    )
    assert code == 0
    stock = json.loads(out)
    assert stock["code"] == "7203"
    assert 55 <= len(stock["bars"]) <= 70
    assert stock["indicators"]["rsi14"] is not None


def test_data_invalid_symbol_is_usage_error(capsys, offline_config):
    code, _, err = run(capsys, "--config", str(offline_config), "data", "72O3")
    assert code == 2
    assert "invalid symbol '72O3'" in err
    assert "Traceback" not in err


def test_data_unknown_symbol_is_runtime_error(capsys, offline_config):
    code, _, err = run(capsys, "--config", str(offline_config), "data", "9999")
    assert code == 1
    assert "no data for 9999.T" in err


def test_bad_option_exit_2(capsys, offline_config):
    code, _, err = run(capsys, "--config", str(offline_config), "recommend", "--top", "0")
    assert code == 2
    assert "--top" in err


def test_config_error_exit_2(capsys, tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[data_source]\nuse = "nope"\n', encoding="utf-8")
    code, _, err = run(capsys, "--config", str(path), "recommend")
    assert code == 2
    assert err.startswith("clstock: error: unknown data source 'nope'")
    assert "Traceback" not in err


def test_debug_shows_traceback(capsys, tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[data_source]\nuse = "nope"\n', encoding="utf-8")
    code, _, err = run(capsys, "--debug", "--config", str(path), "recommend")
    assert code == 2
    assert "Traceback" in err


def test_config_check_ok_and_bad(capsys, offline_config, tmp_path):
    code, out, _ = run(capsys, "config", "check", str(offline_config))
    assert code == 0
    assert "OK" in out
    bad = tmp_path / "bad.toml"
    bad.write_text("[engine]\ntop = -1\n", encoding="utf-8")
    code, _, err = run(capsys, "config", "check", str(bad))
    assert code == 2
    assert "'top'" in err


def test_config_show_is_json(capsys, offline_config):
    code, out, _ = run(capsys, "--config", str(offline_config), "config", "show")
    assert code == 0
    shown = json.loads(out)
    assert shown["data_source"]["use"] == "csv"
    assert shown["engine"]["history_days"] == 20000


def test_plugins_lists_bundled(capsys):
    code, out, _ = run(capsys, "plugins", "--format", "json")
    assert code == 0
    loaded = {p["name"]: p for p in json.loads(out)["loaded"]}
    assert loaded["csv"]["distribution"] == "clstock"
    assert "data source 'csv'" in loaded["csv"]["provides"]


def test_no_progress_bar_when_not_a_tty(capsys, offline_config):
    code, _, err = run(capsys, "--config", str(offline_config), "recommend")
    assert code == 0
    assert "Loading prices" not in err


@pytest.mark.parametrize("args", [["--help"], ["recommend", "--help"]])
def test_help_exits_zero(capsys, args):
    code, out, _ = run(capsys, *args)
    assert code == 0
    assert "Usage" in out


def test_console_script_runs_as_process(offline_config):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "clstock_core",
            "--config",
            str(offline_config),
            "recommend",
            "--top",
            "2",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)["recommendations"]) == 2


def test_recommend_unknown_symbol_exits_1(capsys, offline_config):
    code, out, err = run(capsys, "--config", str(offline_config), "recommend", "--symbol", "9999")
    assert code == 1
    assert out == ""
    assert "no stock could be ranked: 9999.T: no data for 9999.T" in err


def test_recommend_empty_universe_exits_1(capsys, offline_config, price_dir):
    (price_dir.parent / "symbols.csv").write_text("code,symbol,name\n", encoding="utf-8")
    code, _, err = run(capsys, "--config", str(offline_config), "recommend")
    assert code == 1
    assert "the universe is empty" in err


def test_repeated_symbol_counted_once(capsys, offline_config):
    code, out, _ = run(
        capsys,
        "--config",
        str(offline_config),
        "recommend",
        "--symbol",
        "7203",
        "--symbol",
        "7203.T",
        "--format",
        "json",
    )
    assert code == 0
    assert json.loads(out)["universe_size"] == 1


def test_fifo_config_is_rejected(capsys, tmp_path):
    import os

    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    code, _, err = run(capsys, "--config", str(fifo), "config", "check")
    assert code == 2
    assert "not a regular file" in err


def test_broken_pipe_exits_quietly(offline_config):
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "clstock_core",
            "--config",
            str(offline_config),
            "data",
            "7203",
            "--period",
            "max",
            "--format",
            "csv",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    process.stdout.readline()
    process.stdout.close()
    _, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    assert b"Traceback" not in err
