"""The ``parquet`` data source: daily OHLCV of a whole universe in one long-format file."""

from clstock_core.markers import hookimpl


@hookimpl
def clstock_register_data_sources(register):
    from clstock_parquet.source import ParquetSettings, ParquetSource

    register(
        "parquet",
        ParquetSource.from_settings,
        settings=ParquetSettings,
        description="One long-format parquet file (symbol, date, OHLCV) for a whole universe",
    )
