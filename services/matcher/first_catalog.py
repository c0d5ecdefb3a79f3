"""A matcher worker of several (--processes) holds a catalog before it takes a
connection.

Behind one port the kernel hands each connection, a probe's too, to any worker that
listens. A worker that listened without a catalog would answer NOT_SERVING (and fail
every match) while its siblings serve, and a readiness probe would pass or fail by
chance. So a worker binds only once it holds its first catalog; one process alone
binds first and says NOT_SERVING until then, as it always has.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from services.domain.errors import DependencyUnavailable
from services.matcher.catalog_cache import CatalogCache

log = logging.getLogger(__name__)

# Between two asks of the cache, which itself spaces its fetches after a failure
# (answering at once in between), so this only decides how soon a recovery is seen.
POLL_INTERVAL = 0.5


def hold_first_catalog(
    cache: CatalogCache,
    *,
    timeout: float,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Returns once `cache` holds a catalog, asking it again and again until then
    (SIGTERM ends the worker meanwhile: it has nothing to drain)."""
    warned = False
    while True:
        try:
            cache.current(timeout=timeout)
        except DependencyUnavailable as exc:
            if not warned:
                log.warning(
                    "no campaign catalog yet: this worker binds the port once it holds one: %s",
                    exc,
                )
                warned = True
            sleep(POLL_INTERVAL)
            continue
        if warned:
            log.info("campaign catalog held: binding the port")
        return
