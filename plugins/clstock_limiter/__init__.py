"""The ``limiter`` rate limiter: per-route GCRA limits in process memory."""

from clstock_core.markers import hookimpl


@hookimpl
def clstock_register_rate_limiters(register):
    from clstock_limiter.limiter import Limiter
    from clstock_limiter.settings import LimiterSettings

    register(
        "limiter",
        Limiter.from_settings,
        settings=LimiterSettings,
        description="Per-route request limits per API key or client IP (GCRA, in memory)",
    )
