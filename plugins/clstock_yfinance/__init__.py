"""The ``yfinance`` data source: daily OHLCV from Yahoo Finance over the network."""

from clstock_core.markers import hookimpl


def _build_source(settings, app):
    # yfinance is imported only when this source is selected.
    from clstock_yfinance.source import YfinanceSource

    return YfinanceSource.from_settings(settings, app)


@hookimpl
def clstock_register_data_sources(register):
    from clstock_yfinance.settings import YfinanceSettings

    register(
        "yfinance",
        _build_source,
        settings=YfinanceSettings,
        description="Daily prices from Yahoo Finance through yfinance (needs network access)",
    )
