"""``python -m clstock_core`` runs the ``clstock`` command line."""

from clstock_core.cli.main import run

run()
