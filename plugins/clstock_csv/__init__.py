"""The ``csv`` data source: a directory of per-symbol daily price files."""

from clstock_core.markers import hookimpl


@hookimpl
def clstock_register_data_sources(register):
    from clstock_csv.source import CsvSettings, CsvSource

    register(
        "csv",
        CsvSource.from_settings,
        settings=CsvSettings,
        description="Per-symbol CSV files, plain or as yfinance's to_csv() writes them",
    )
