"""Settings of the ``yfinance`` data source.

Kept apart from the source so that registering the plugin does not import
yfinance, which takes about half a second.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from clstock_core.symbols import parse_symbol


class YfinanceSettings(BaseModel):
    """Settings of the ``[data_source.yfinance]`` table."""

    model_config = ConfigDict(extra="forbid")

    universe_file: Path | None = Field(
        default=None,
        description="CSV with columns code,symbol,name listing the stocks to rank",
    )
    symbols: list[str] = Field(
        default_factory=list,
        description="Stocks to rank when there is no universe_file, e.g. ['7203', '130A']",
    )
    batch_size: int = Field(
        default=100, ge=1, le=1000, description="Tickers per yfinance.download call"
    )
    threads: int = Field(
        default=4,
        ge=0,
        le=32,
        description="Download threads per batch; 0 fetches one ticker after another",
    )
    timeout: float = Field(
        default=10.0, gt=0, le=300, description="Seconds to wait for each HTTP response"
    )
    retries: int = Field(
        default=0,
        ge=0,
        le=5,
        description="yfinance's own retries of a request after a network error",
    )
    auto_adjust: bool = Field(
        default=False,
        description="Adjust OHLC for dividends and splits; false keeps raw prices and Adj Close",
    )

    @field_validator("symbols")
    @classmethod
    def _parse_symbols(cls, values: list[str]) -> list[str]:
        # parse_symbol raises InvalidSymbolError, a ValueError, naming the value.
        return list(dict.fromkeys(parse_symbol(value).ticker for value in values))

    @model_validator(mode="after")
    def _one_universe(self) -> YfinanceSettings:
        if self.universe_file is not None and self.symbols:
            raise ValueError("set either universe_file or symbols, not both")
        return self
