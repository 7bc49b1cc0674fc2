"""The ``pickle`` cache backend: signed, crash-safe pickle files with TTL and LRU eviction."""

from clstock_core.markers import hookimpl


@hookimpl
def clstock_register_cache_backends(register):
    from clstock_pickle.backend import PickleCache
    from clstock_pickle.settings import PickleCacheSettings

    register(
        "pickle",
        PickleCache.from_settings,
        settings=PickleCacheSettings,
        description="HMAC-signed pickle files in the user cache directory, TTL and LRU eviction",
    )
