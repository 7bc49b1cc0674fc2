"""Resource lifecycle: shutdown handlers, signals, managed resources and temp files.

The HTTP pieces (``http``, ``resources``) import ``requests`` and are not
re-exported here, so that importing the application stays cheap.
"""

from clstock_core.lifecycle.shutdown import ShutdownManager
from clstock_core.lifecycle.signals import Cancellation, batch_signals, server_signals
from clstock_core.lifecycle.tempfiles import TempFiles

__all__ = ["Cancellation", "ShutdownManager", "TempFiles", "batch_signals", "server_signals"]
