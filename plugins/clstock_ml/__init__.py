"""The ``ml`` predictor: a gradient-boosting model of the forward return, and ``clstock train``."""

from clstock_core.markers import hookimpl


def _build_predictor(settings, app):
    # scikit-learn and skops take about a second to import, so they are
    # loaded only when a configuration selects this predictor.
    from clstock_ml.predictor import MlPredictor

    return MlPredictor.from_settings(settings, app)


@hookimpl
def clstock_register_predictors(register):
    from clstock_ml.settings import MlSettings

    register(
        "ml",
        _build_predictor,
        settings=MlSettings,
        description="HistGradientBoostingRegressor on price, volume and technical features; "
        "needs 'clstock train'",
    )


@hookimpl
def clstock_cli_commands(cli):
    from clstock_ml.cli import train

    cli.add_command(train)
