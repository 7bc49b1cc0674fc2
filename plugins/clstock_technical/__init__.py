"""The ``technical`` predictor: trend, RSI, MACD and volume, scored 0-100."""

from clstock_core.markers import hookimpl


@hookimpl
def clstock_register_predictors(register):
    from clstock_technical.predictor import TechnicalPredictor, TechnicalSettings

    register(
        "technical",
        TechnicalPredictor.from_settings,
        settings=TechnicalSettings,
        description="Rule-based score from SMA trend, RSI(14), MACD and volume trend",
    )
