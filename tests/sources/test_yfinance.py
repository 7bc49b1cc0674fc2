"""The yfinance data source against the real yfinance.download and a fake Yahoo.

Only ``Ticker.history`` is replaced (see ``yahoo_fakes``), so ``download``'s
own threads, error swallowing and frame layout are exercised.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path

import curl_cffi.requests.exceptions as curl_errors
import pandas as pd
import pytest
import requests
import yfinance
from clstock_yfinance import yahoo
from clstock_yfinance.errors import map_error
from clstock_yfinance.settings import YfinanceSettings
from clstock_yfinance.source import YfinanceSource
from yfinance.data import YfData
from yfinance.exceptions import YFPricesMissingError, YFRateLimitError, YFTzMissingError

from clstock_core.app import Application
from clstock_core.errors import (
    ConfigError,
    DataFetchError,
    InvalidSymbolError,
    NoDataError,
    SourceRateLimitedError,
    SourceUnavailableError,
)
from clstock_core.prices import normalize_history
from tests.sources.yahoo_fakes import bars, history_frame

MARCH_1 = dt.date(2024, 3, 1)
MARCH_5 = dt.date(2024, 3, 5)


def make_source(**settings: object) -> YfinanceSource:
    return YfinanceSource(YfinanceSettings(**settings))


@pytest.fixture
def download_calls(monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    """Record the arguments of every yfinance.download call, then run the real one."""
    calls: list[dict] = []
    real_download = yfinance.download

    def recording_download(*args: object, **kwargs: object):
        calls.append(dict(kwargs))
        return real_download(*args, **kwargs)

    monkeypatch.setattr(yfinance, "download", recording_download)
    return calls


# -- loading --------------------------------------------------------------


def test_one_symbol_has_tokyo_dates(fake_yahoo):
    rows = bars(10, start="2024-02-26")
    fake_yahoo.add("7203.T", rows)

    result = make_source().fetch(["7203"], start=MARCH_1, end=MARCH_5)

    assert result.failures == {}
    raw = result.histories["7203.T"]
    assert str(raw.index.tz) == "Asia/Tokyo"
    assert raw.index[0] == pd.Timestamp("2024-03-01 00:00", tz="Asia/Tokyo")

    history = normalize_history(raw, "7203.T")
    expected_dates = [
        pd.Timestamp("2024-03-01"),
        pd.Timestamp("2024-03-04"),
        pd.Timestamp("2024-03-05"),
    ]
    assert list(history.index) == expected_dates
    expected_close = rows.loc[expected_dates, "close"].to_numpy()
    assert history["close"].to_numpy() == pytest.approx(expected_close)
    assert history["volume"].tolist() == rows.loc[expected_dates, "volume"].tolist()


def test_many_symbols_share_one_download(fake_yahoo, download_calls):
    for seed, ticker in enumerate(["7203.T", "6758.T", "130A.T"]):
        fake_yahoo.add(ticker, bars(10, seed=seed, start="2024-02-26"))

    result = make_source(threads=2).fetch(["7203", "6758.T", "130a.t"], start=MARCH_1)

    assert result.failures == {}
    assert sorted(result.histories) == ["130A.T", "6758.T", "7203.T"]
    assert len(download_calls) == 1
    for ticker, raw in result.histories.items():
        own_close = fake_yahoo.bars[ticker]["close"]
        history = normalize_history(raw, ticker)
        assert history["close"].to_numpy() == pytest.approx(own_close.loc[history.index].to_numpy())


def test_download_arguments(fake_yahoo, download_calls):
    fake_yahoo.add("7203.T", bars())

    make_source(threads=3, timeout=7.5).fetch(["7203"], start=MARCH_1, end=MARCH_5)

    (call,) = download_calls
    assert call["tickers"] == ["7203.T"]
    assert call["start"] == "2024-03-01"
    assert call["end"] == "2024-03-06"  # yfinance's end is exclusive
    assert call["group_by"] == "column"
    assert call["auto_adjust"] is False
    assert call["actions"] is False
    assert call["progress"] is False
    assert call["threads"] == 3
    assert call["timeout"] == 7.5
    assert call["ignore_tz"] is False
    assert "session" not in call


def test_open_start_requests_whole_history(fake_yahoo, download_calls):
    fake_yahoo.add("7203.T", bars())

    make_source().fetch(["7203"])

    (call,) = download_calls
    assert call["period"] == "max"
    assert "start" not in call


def test_zero_threads_downloads_sequentially(fake_yahoo, download_calls):
    fake_yahoo.add("7203.T", bars())

    result = make_source(threads=0).fetch(["7203"])

    assert "7203.T" in result.histories
    assert download_calls[0]["threads"] is False


def test_batches_split_download_calls(fake_yahoo, download_calls):
    tickers = ["1301.T", "1332.T", "6758.T", "7203.T", "9984.T"]
    for seed, ticker in enumerate(tickers):
        fake_yahoo.add(ticker, bars(seed=seed))

    result = make_source(batch_size=2).fetch(tickers)

    assert sorted(result.histories) == tickers
    assert [call["tickers"] for call in download_calls] == [tickers[0:2], tickers[2:4], tickers[4:]]


def test_repeated_symbol_fetched_once(fake_yahoo, download_calls):
    fake_yahoo.add("7203.T", bars())

    result = make_source().fetch(["7203", "7203.T", "7203.t"])

    assert list(result.histories) == ["7203.T"]
    assert download_calls[0]["tickers"] == ["7203.T"]


def test_letter_code_loads(fake_yahoo):
    fake_yahoo.add("130A.T", bars(seed=3))

    result = make_source().fetch(["130A"], start=MARCH_1)

    assert list(result.histories) == ["130A.T"]
    history = normalize_history(result.histories["130A.T"], "130A.T")
    assert history.index[0] == pd.Timestamp("2024-03-01")


def test_invalid_symbol_raises(fake_yahoo):
    with pytest.raises(InvalidSymbolError, match="'72031'"):
        make_source().fetch(["72031"])


# -- failures -------------------------------------------------------------


def test_unknown_ticker_is_no_data(fake_yahoo):
    fake_yahoo.add("7203.T", bars())

    result = make_source().fetch(["7203", "9999"])

    assert list(result.histories) == ["7203.T"]
    error = result.failures["9999.T"]
    assert type(error) is NoDataError
    assert str(error).startswith("no data for 9999.T")
    assert error.retryable is False


def test_ticker_without_bars_in_window_is_no_data(fake_yahoo):
    fake_yahoo.add("7203.T", bars(5, start="2024-01-04"))

    result = make_source().fetch(["7203"], start=MARCH_1)

    assert type(result.failures["7203.T"]) is NoDataError


def test_all_nan_columns_are_no_data(monkeypatch):
    index = pd.to_datetime([dt.date(2024, 3, 1)]).tz_localize("Asia/Tokyo").rename("Date")
    columns = pd.MultiIndex.from_product(
        [["Adj Close", "Close", "High", "Low", "Open", "Volume"], ["7203.T"]],
        names=["Price", "Ticker"],
    )
    frame = pd.DataFrame(float("nan"), index=index, columns=columns)
    monkeypatch.setattr(yfinance, "download", lambda **kwargs: frame)
    monkeypatch.setattr(
        yahoo, "history", lambda ticker, window, **kwargs: yfinance.utils.empty_df()
    )

    result = make_source().fetch(["7203"])

    assert result.histories == {}
    assert type(result.failures["7203.T"]) is NoDataError


@pytest.mark.parametrize(
    "missing", [YFTzMissingError("9999.T"), YFPricesMissingError("9999.T", "(1d)")]
)
def test_missing_ticker_errors_are_no_data(fake_yahoo, missing):
    fake_yahoo.fail(["9999.T"], missing)

    result = make_source().fetch(["9999"])

    error = result.failures["9999.T"]
    assert type(error) is NoDataError
    assert missing.rationale in str(error)


def test_rate_limit_is_rate_limited(fake_yahoo):
    fake_yahoo.fail(["7203.T", "6758.T"], YFRateLimitError())

    result = make_source().fetch(["7203", "6758"])

    assert result.histories == {}
    for ticker in ["7203.T", "6758.T"]:
        error = result.failures[ticker]
        assert type(error) is SourceRateLimitedError
        assert error.retryable is True
        assert "rate limit" in str(error)
    # One call each inside download, then one diagnosis call in total: after
    # a rate limit the other ticker is not asked again.
    assert len(fake_yahoo.calls) == 3


def test_rate_limit_stops_later_batches(fake_yahoo, download_calls):
    fake_yahoo.fail(["1301.T", "1332.T", "6758.T"], YFRateLimitError())

    result = make_source(batch_size=1).fetch(["1301", "1332", "6758"])

    assert len(download_calls) == 1
    assert all(type(error) is SourceRateLimitedError for error in result.failures.values())
    assert sorted(result.failures) == ["1301.T", "1332.T", "6758.T"]
    assert "not requested" in str(result.failures["6758.T"])


def test_partial_rate_limit_keeps_loaded(fake_yahoo, download_calls):
    fake_yahoo.add("1301.T", bars())
    fake_yahoo.add("6758.T", bars(seed=2))
    fake_yahoo.fail(["1332.T"], YFRateLimitError())

    result = make_source(batch_size=2).fetch(["1301", "1332", "6758"])

    assert sorted(result.histories) == ["1301.T", "6758.T"]
    assert type(result.failures["1332.T"]) is SourceRateLimitedError
    assert len(download_calls) == 2


@pytest.mark.parametrize(
    "network_error",
    [
        curl_errors.ConnectionError("Failed to perform, curl: (6) Could not resolve host"),
        curl_errors.Timeout("Operation timed out after 10000 milliseconds"),
        requests.exceptions.ConnectionError("Max retries exceeded"),
        TimeoutError("timed out"),
    ],
    ids=["curl-connection", "curl-timeout", "requests-connection", "timeout"],
)
def test_network_failure_is_unavailable(fake_yahoo, network_error):
    fake_yahoo.fail(["7203.T"], network_error)

    result = make_source().fetch(["7203"])

    error = result.failures["7203.T"]
    assert type(error) is SourceUnavailableError
    assert error.retryable is True
    assert "cannot reach Yahoo Finance" in str(error)


def test_rate_limit_and_network_errors_differ():
    rate_limited = map_error(YFRateLimitError(), "7203.T")
    unavailable = map_error(curl_errors.ConnectionError("down"), "7203.T")

    assert type(rate_limited) is SourceRateLimitedError
    assert type(unavailable) is SourceUnavailableError
    assert not isinstance(unavailable, SourceRateLimitedError)


class _Response:
    def __init__(self, status_code: int) -> None:
        self.status_code = status_code


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (404, NoDataError),
        (429, SourceRateLimitedError),
        (500, SourceUnavailableError),
        (401, SourceUnavailableError),
    ],
)
def test_http_status_mapping(status, expected):
    error = curl_errors.HTTPError(f"HTTP Error {status}", response=_Response(status))

    assert type(map_error(error, "7203.T")) is expected


def test_download_exception_fails_batch(monkeypatch):
    def raising_download(**kwargs):
        raise YFRateLimitError()

    monkeypatch.setattr(yfinance, "download", raising_download)

    result = make_source().fetch(["7203", "6758"])

    assert sorted(result.failures) == ["6758.T", "7203.T"]
    assert all(type(error) is SourceRateLimitedError for error in result.failures.values())


def test_history_recovers_download_miss(fake_yahoo):
    fake_yahoo.add("7203.T", bars())
    # The call inside download fails, the diagnosis call succeeds.
    fake_yahoo.fail(["7203.T"], [curl_errors.ConnectionError("reset by peer"), None])

    result = make_source().fetch(["7203"], start=MARCH_1)

    assert result.failures == {}
    assert normalize_history(result.histories["7203.T"], "7203.T").index[0] == pd.Timestamp(
        "2024-03-01"
    )


def test_unexpected_error_fails_ticker(fake_yahoo, caplog):
    fake_yahoo.add("6758.T", bars())
    fake_yahoo.fail(["7203.T"], KeyError("chart"))

    with caplog.at_level(logging.ERROR, logger="clstock_yfinance"):
        result = make_source().fetch(["7203", "6758"])

    assert "6758.T" in result.histories
    error = result.failures["7203.T"]
    assert type(error) is DataFetchError
    assert error.retryable is False
    assert "KeyError" in str(error)
    assert "Ticker.history of 7203.T failed unexpectedly" in caplog.text


def test_yfinance_settings_restored(fake_yahoo):
    fake_yahoo.fail(["7203.T"], YFRateLimitError())
    before = (yfinance.config.debug.hide_exceptions, yfinance.config.network.retries)

    make_source(retries=2).fetch(["7203"])

    assert (yfinance.config.debug.hide_exceptions, yfinance.config.network.retries) == before


def test_yfinance_errors_muted(fake_yahoo, caplog):
    with caplog.at_level(logging.WARNING, logger="yfinance"):
        result = make_source().fetch(["9999"])
        level_after = logging.getLogger("yfinance").level

    assert type(result.failures["9999.T"]) is NoDataError
    assert not [record for record in caplog.records if record.name == "yfinance"]
    assert level_after == logging.WARNING


def test_yfinance_errors_shown_when_debugging(fake_yahoo, caplog):
    with caplog.at_level(logging.DEBUG, logger="yfinance"):
        make_source().fetch(["9999"])

    messages = [record.getMessage() for record in caplog.records if record.name == "yfinance"]
    assert any("9999.T" in message for message in messages)


# -- the shape of yfinance's frames --------------------------------------


def test_download_frame_has_two_levels(fake_yahoo):
    fake_yahoo.add("7203.T", bars())

    frame = yahoo.download(
        ["7203.T"], {"start": "2024-02-26"}, threads=1, timeout=10, auto_adjust=False
    )

    assert frame.columns.names == ["Price", "Ticker"]
    assert sorted(frame.columns.get_level_values("Price")) == sorted(
        ["Open", "High", "Low", "Close", "Adj Close", "Volume"]
    )
    assert str(frame.index.tz) == "Asia/Tokyo"
    assert frame.index[0] == pd.Timestamp("2024-02-26 00:00+09:00")


@pytest.mark.parametrize("group_by", ["column", "ticker"])
def test_split_handles_both_layouts(fake_yahoo, group_by):
    fake_yahoo.add("7203.T", bars(seed=1))
    fake_yahoo.add("130A.T", bars(5, seed=2, start="2024-03-01"))
    frame = yfinance.download(
        tickers=["7203.T", "130A.T", "9999.T"],
        start="2024-02-26",
        group_by=group_by,
        auto_adjust=False,
        actions=False,
        progress=False,
        threads=2,
        ignore_tz=False,
    )

    histories = yahoo.split_by_ticker(frame, ["7203.T", "130A.T", "9999.T"])

    assert sorted(histories) == ["130A.T", "7203.T"]
    # 130A.T starts later: download pads it with NaN rows, which are dropped.
    assert len(histories["130A.T"]) == 5
    assert histories["7203.T"]["Close"].to_numpy() == pytest.approx(
        fake_yahoo.bars["7203.T"]["close"].to_numpy()
    )


def test_single_level_frame_rejected():
    frame = pd.DataFrame({"Close": [1.0]})

    with pytest.raises(DataFetchError, match="'Price' and 'Ticker'"):
        yahoo.split_by_ticker(frame, ["7203.T"])


def test_fake_history_matches_yfinance(monkeypatch):
    """The fake's frames equal what yfinance builds from a Yahoo chart response."""
    rows = bars(3, start="2024-02-29")
    timestamps = [
        int(pd.Timestamp(f"{day:%Y-%m-%d} 09:00", tz="Asia/Tokyo").timestamp())
        for day in rows.index
    ]
    chart = {
        "chart": {
            "result": [
                {
                    "meta": {
                        "currency": "JPY",
                        "symbol": "7203.T",
                        "instrumentType": "EQUITY",
                        "exchangeTimezoneName": "Asia/Tokyo",
                        "priceHint": 2,
                        "dataGranularity": "1d",
                        "validRanges": ["1d", "5d", "1mo", "max"],
                    },
                    "timestamp": timestamps,
                    "indicators": {
                        "quote": [
                            {
                                "open": rows["open"].tolist(),
                                "high": rows["high"].tolist(),
                                "low": rows["low"].tolist(),
                                "close": rows["close"].tolist(),
                                "volume": rows["volume"].tolist(),
                            }
                        ],
                        "adjclose": [{"adjclose": rows["adj_close"].tolist()}],
                    },
                }
            ],
            "error": None,
        }
    }

    class ChartResponse:
        status_code = 200
        url = "https://query2.finance.yahoo.com/v8/finance/chart/7203.T"
        text = json.dumps(chart)

        def json(self):
            return chart

    monkeypatch.setattr(YfData, "get", lambda self, url, params=None, timeout=30: ChartResponse())
    YfData.cache_get.cache_clear()
    ticker = yfinance.Ticker("7203.T")
    # NOTE: a private attribute; it spares yfinance's on-disk timezone cache.
    ticker._tz = "Asia/Tokyo"
    try:
        real = ticker.history(
            start="2024-02-26", end="2024-03-05", auto_adjust=False, actions=False
        )
    finally:
        YfData.cache_get.cache_clear()

    pd.testing.assert_frame_equal(real, history_frame(rows))


# -- settings and universe ------------------------------------------------


def test_symbols_setting_is_universe():
    source = make_source(symbols=["7203", "130a.t", "7203.T"])

    stocks = source.list_stocks()

    assert [(stock.code, stock.symbol) for stock in stocks] == [
        ("130A", "130A.T"),
        ("7203", "7203.T"),
    ]


def test_universe_file_names_stocks(tmp_path: Path):
    universe = tmp_path / "symbols.csv"
    universe.write_text(
        "code,symbol,name\n7203,7203.T,トヨタ自動車\n130A,130A.T,Veritas In Silico\n",
        encoding="utf-8-sig",
    )

    stocks = make_source(universe_file=universe).list_stocks()

    assert {stock.symbol: stock.name for stock in stocks} == {
        "130A.T": "Veritas In Silico",
        "7203.T": "トヨタ自動車",
    }


def test_empty_universe_warns(caplog):
    with caplog.at_level(logging.WARNING):
        stocks = make_source().list_stocks()

    assert stocks == []
    assert "universe_file or symbols" in caplog.text


def test_invalid_symbol_setting_rejected():
    with pytest.raises(ValueError, match="'0123'"):
        YfinanceSettings(symbols=["7203", "0123"])


def test_universe_and_symbols_exclusive(tmp_path: Path):
    universe = tmp_path / "symbols.csv"
    universe.write_text("code,name\n7203,Toyota\n", encoding="utf-8")

    with pytest.raises(ValueError, match="either universe_file or symbols"):
        YfinanceSettings(universe_file=universe, symbols=["7203"])


def test_missing_universe_file_is_config_error(tmp_path: Path):
    missing = tmp_path / "absent.csv"

    with pytest.raises(ConfigError, match="absent.csv"):
        make_source(universe_file=missing)


def test_unknown_setting_rejected(tmp_path: Path):
    config = tmp_path / "clstock.toml"
    config.write_text(
        '[data_source]\nuse = "yfinance"\n[data_source.yfinance]\nthread = 4\n', encoding="utf-8"
    )

    with pytest.raises(ConfigError, match="thread"):
        Application(config, environ={})


def test_engine_loads_through_yfinance(tmp_path: Path, fake_yahoo):
    fake_yahoo.add("7203.T", bars(10, start="2024-02-26"))
    fake_yahoo.add("130A.T", bars(10, seed=4, start="2024-02-26"))
    config = tmp_path / "clstock.toml"
    config.write_text(
        '[data_source]\nuse = "yfinance"\n'
        '[data_source.yfinance]\nsymbols = ["7203", "130A", "9999"]\nthreads = 2\n'
        '[cache]\nuse = "none"\n',
        encoding="utf-8",
    )

    with Application(config, environ={}) as app:
        loaded = app.engine.load(start=MARCH_1)

    assert loaded.panel.symbols == ["130A.T", "7203.T"]
    assert loaded.panel.history("7203.T").index[0] == pd.Timestamp("2024-03-01")
    assert loaded.failures["9999.T"].startswith("no data for 9999.T")
