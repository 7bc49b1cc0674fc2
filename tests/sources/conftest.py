"""Fixtures of the data-source tests."""

from __future__ import annotations

import pytest
import yfinance

from tests.sources.yahoo_fakes import FakeYahoo


@pytest.fixture
def fake_yahoo(monkeypatch: pytest.MonkeyPatch) -> FakeYahoo:
    """Replace ``yfinance.Ticker.history`` so that no test reaches Yahoo."""
    fake = FakeYahoo()

    def history(ticker: yfinance.Ticker, *args: object, **kwargs: object):
        assert not args, "yfinance calls Ticker.history with keywords only"
        return fake.history(ticker.ticker, **kwargs)

    monkeypatch.setattr(yfinance.Ticker, "history", history)
    return fake
