"""The ``clstock`` command line."""
