"""Shared fixtures: an isolated environment, synthetic prices, real-data access."""

from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path

import pytest

from tests.helpers import make_ohlcv, write_plain_csv, write_yfinance_csv

DATA_DIR_ENV = "CLSTOCK_DATA_DIR"

# Keep what the test run itself was given; everything else named CLSTOCK_*
# is removed so a developer's own settings cannot change results.
_KEEP_ENV = {DATA_DIR_ENV}


def _is_loopback(address: object) -> bool:
    if not isinstance(address, tuple):
        return True  # AF_UNIX paths stay on this machine
    host = str(address[0])
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def _no_internet(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any test that tries to connect beyond the loopback interface."""
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def guarded(method):
        def connect(self: socket.socket, address: object):
            if not _is_loopback(address):
                raise OSError(f"tests must not reach the network (tried to connect to {address!r})")
            return method(self, address)

        return connect

    monkeypatch.setattr(socket.socket, "connect", guarded(real_connect))
    monkeypatch.setattr(socket.socket, "connect_ex", guarded(real_connect_ex))


@pytest.fixture(autouse=True)
def _isolated_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    for name in list(os.environ):
        if name.startswith("CLSTOCK_") and name not in _KEEP_ENV:
            monkeypatch.delenv(name)
    # Only the plugins bundled with ClStock load in tests, whatever else is
    # installed in the environment.
    monkeypatch.setenv("CLSTOCK_DISABLE_PLUGIN_AUTOLOAD", "1")
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / "state"))


@pytest.fixture
def real_data_dir() -> Path:
    """The real TSE data directory named by CLSTOCK_DATA_DIR; skips when absent."""
    value = os.environ.get(DATA_DIR_ENV, "")
    if not value:
        pytest.skip(
            f"real-data test: set {DATA_DIR_ENV} to the TSE data directory (prices/, symbols.csv)"
        )
    path = Path(value)
    if not (path / "prices").is_dir():
        pytest.skip(f"real-data test: {DATA_DIR_ENV}={value} has no prices/ directory")
    return path


@pytest.fixture
def price_dir(tmp_path: Path) -> Path:
    """A CSV directory of six synthetic stocks in both accepted layouts, plus a universe file."""
    directory = tmp_path / "prices"
    directory.mkdir()
    specs = {
        "7203.T": 0.002,
        "6758.T": 0.001,
        "9984.T": -0.001,
        "130A.T": 0.0005,
        "8306.T": 0.0,
        "4063.T": -0.002,
    }
    for index, (ticker, drift) in enumerate(specs.items()):
        frame = make_ohlcv(300, seed=index, drift=drift)
        if index % 2:
            write_plain_csv(directory / f"{ticker}.csv", frame)
        else:
            write_yfinance_csv(directory / f"{ticker}.csv", frame, ticker)
    universe = tmp_path / "symbols.csv"
    universe.write_text(
        "code,symbol,name\n7203,7203.T,トヨタ自動車\n6758,6758.T,ソニーグループ\n9984,9984.T,ソフトバンクグループ\n"
        "130A,130A.T,Veritas In Silico\n"
        "8306,8306.T,三菱ＵＦＪフィナンシャル・グループ\n"
        "4063,4063.T,信越化学工業\n",
        encoding="utf-8",
    )
    return directory


@pytest.fixture
def offline_config(tmp_path: Path, price_dir: Path) -> Path:
    """A config file selecting the csv source over ``price_dir`` and a temp cache."""
    path = tmp_path / "clstock.toml"
    path.write_text(
        f"""
[data_source]
use = "csv"
[data_source.csv]
directory = "{price_dir.as_posix()}"
universe_file = "{(price_dir.parent / "symbols.csv").as_posix()}"
[cache]
use = "none"
[engine]
history_days = 20000
""",
        encoding="utf-8",
    )
    return path
