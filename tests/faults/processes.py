"""Helpers to run ``clstock`` as a child process in an isolated environment."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from tests.helpers import make_ohlcv

REPO = Path(__file__).resolve().parents[2]


def clstock_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The current (already isolated) environment with private temp, cache and data dirs."""
    temp = tmp_path / "tmp"
    temp.mkdir(exist_ok=True)
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "TMPDIR": str(temp),
        "XDG_CACHE_HOME": str(tmp_path / "xdg-cache"),
        "XDG_DATA_HOME": str(tmp_path / "xdg-data"),
    }
    env.update(extra)
    return env


def start_clstock(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "clstock_core", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
    )


def run_clstock(
    args: list[str], env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "clstock_core", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=timeout,
        check=False,
    )


def wait_until(condition, timeout: float, message: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting until {message}")
        time.sleep(0.02)


def app_temp_dir(env: dict[str, str]) -> Path:
    return Path(env["TMPDIR"]) / f"clstock-{os.getuid()}"


def leftover_files(directory: Path) -> list[str]:
    """Temp and lock files in a cache or temp directory."""
    if not directory.exists():
        return []
    return sorted(name for name in os.listdir(directory) if not name.endswith(".entry"))


def price_csv(seed: int, days: int = 300) -> bytes:
    """Synthetic daily prices as CSV with a ``date`` column and lower-case OHLCV columns."""
    return make_ohlcv(days, seed=seed, drift=0.0002 * (seed % 7)).to_csv().encode()
