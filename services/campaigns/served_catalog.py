"""The catalog the campaign service serves now, swapped whole, and a way to wait for the next one.

`ServedCatalog` is the one place the current version lives: the file watcher replaces
it, ListCampaigns reads it, WatchCampaigns streams wait on it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from services.domain.campaign import Catalog


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class LoadedCatalog:
    """A catalog version as this process serves it: the catalog and when it was loaded."""

    catalog: Catalog
    # When this process loaded this version.
    loaded_at: datetime


class ServedCatalog:
    """The campaign service's current catalog: `replace` swaps in a new version and
    wakes the streams waiting in `wait_for_change`.

    Readers take `current` without a lock: it is a single reference to frozen data,
    so a reader sees the old catalog or the new one, never a mix.
    """

    def __init__(self, catalog: Catalog, *, clock: Callable[[], datetime] = _utc_now) -> None:
        self._clock = clock
        self._changed = threading.Condition()
        self._loaded = LoadedCatalog(catalog, clock())
        self._closed = False

    @property
    def current(self) -> LoadedCatalog:
        return self._loaded

    @property
    def closed(self) -> bool:
        return self._closed

    def replace(self, catalog: Catalog) -> bool:
        """Serves `catalog` from now on; False (and nothing changes) if its version is current."""
        with self._changed:
            if catalog.version == self._loaded.catalog.version:
                return False
            self._loaded = LoadedCatalog(catalog, self._clock())
            self._changed.notify_all()
            return True

    def wait_for_change(
        self,
        known_version: str,
        timeout: float,
        *,
        cancelled: Callable[[], bool] = lambda: False,
    ) -> LoadedCatalog | None:
        """The current catalog once its version differs from `known_version`.

        None when `timeout` seconds pass first, it is closed, or `cancelled()`
        is true; whoever makes `cancelled()` true calls `wake_waiters` so that the
        wait ends at once.
        """
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                if self._closed or cancelled():
                    return None
                if self._loaded.catalog.version != known_version:
                    return self._loaded
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._changed.wait(remaining)

    def wake_waiters(self) -> None:
        with self._changed:
            self._changed.notify_all()

    def close(self) -> None:
        """Ends every wait, now and later: used on shutdown so streams end at once."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()
