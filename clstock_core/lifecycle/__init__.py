"""Resource lifecycle: shutdown handlers, managed resources and temp files."""

from clstock_core.lifecycle.shutdown import ShutdownManager

__all__ = ["ShutdownManager"]
