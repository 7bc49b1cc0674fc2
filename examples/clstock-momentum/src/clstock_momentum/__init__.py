"""An example third-party ClStock plugin: the ``momentum`` predictor.

ClStock imports this module through the ``clstock.plugins`` entry point that
``pyproject.toml`` declares, then calls the hooks marked with ``hookimpl``.
"""

from clstock_core import hookimpl

__version__ = "0.1.0"


@hookimpl
def clstock_register_predictors(register):
    # Importing inside the hook keeps `clstock --help` from loading pandas
    # for a plugin it does not use.
    from clstock_momentum.predictor import MomentumPredictor, MomentumSettings

    register(
        "momentum",
        MomentumPredictor.from_settings,
        settings=MomentumSettings,
        description="Cross-sectional 12-1 month price momentum, scored by percentile rank",
    )
