"""Pluggy markers for the ``clstock`` project.

Plugins decorate their hook implementations with :data:`hookimpl`.
"""

import pluggy

PROJECT_NAME = "clstock"
ENTRY_POINT_GROUP = "clstock.plugins"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)
