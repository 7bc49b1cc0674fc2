"""Request ids in log lines, and the server's logging configuration."""

from __future__ import annotations

import itertools
import logging
import re
import secrets
import sys
from contextvars import ContextVar

#: Id of the request being served; "-" outside a request.
request_id_var: ContextVar[str] = ContextVar("clstock_request_id", default="-")

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"

#: Incoming X-Request-ID values are kept only in this shape, so a client
#: cannot inject separators or newlines into log lines.
_INCOMING_ID_RE = re.compile(rb"[A-Za-z0-9._:-]{1,64}")

# A random prefix per process plus a counter: unique across workers and
# restarts, and cheaper than a UUID per request.
_PREFIX = secrets.token_hex(4)
_COUNTER = itertools.count(1)


def new_request_id() -> str:
    return f"{_PREFIX}-{next(_COUNTER):08x}"


def accept_request_id(value: bytes | None) -> str:
    """Return the client's X-Request-ID when well formed, else a new id."""
    if value is not None and _INCOMING_ID_RE.fullmatch(value):
        return value.decode("ascii")
    return new_request_id()


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to every record, for the ``%(request_id)s`` format field."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


def configure_logging(level: str) -> None:
    """Send every log line to stderr with its request id, at ``level`` and above."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.addFilter(RequestIdFilter())

    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # uvicorn's loggers propagate to the root logger, so its startup lines
    # get the same format. Its access log is replaced by the API's own,
    # which leaves out query strings.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
