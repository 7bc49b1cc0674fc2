"""ClStock kernel: plugin hooks, configuration, price handling and the ranking engine.

Plugin authors need :data:`hookimpl`, the role interfaces in
:mod:`clstock_core.roles` and the errors in :mod:`clstock_core.errors`.
"""

from clstock_core.app import Application
from clstock_core.markers import hookimpl
from clstock_core.symbols import Symbol, parse_symbol

__version__ = "0.1.0"

__all__ = ["Application", "Symbol", "__version__", "hookimpl", "parse_symbol"]
