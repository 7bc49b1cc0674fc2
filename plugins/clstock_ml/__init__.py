"""The ``ml`` predictor: a gradient-boosting model of the forward return, and ``clstock train``."""

from clstock_core.markers import hookimpl


@hookimpl
def clstock_register_predictors(register):
    from clstock_ml.predictor import MlPredictor
    from clstock_ml.settings import MlSettings

    register(
        "ml",
        MlPredictor.from_settings,
        settings=MlSettings,
        description="HistGradientBoostingRegressor on price, volume and technical features; "
        "needs 'clstock train'",
    )


@hookimpl
def clstock_cli_commands(cli):
    from clstock_ml.cli import train

    cli.add_command(train)
