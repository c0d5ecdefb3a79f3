"""The catalog being served, swapped whole, and a way to wait for the next one."""

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
class CatalogSnapshot:
    catalog: Catalog
    # When this process loaded this version.
    loaded_at: datetime


class CatalogHolder:
    """Holds one immutable snapshot; `replace` swaps in a new one and wakes waiters.

    Readers take `current` without a lock: it is a single reference to frozen data,
    so a reader sees the old catalog or the new one, never a mix.
    """

    def __init__(self, catalog: Catalog, *, clock: Callable[[], datetime] = _utc_now) -> None:
        self._clock = clock
        self._changed = threading.Condition()
        self._snapshot = CatalogSnapshot(catalog, clock())
        self._closed = False

    @property
    def current(self) -> CatalogSnapshot:
        return self._snapshot

    @property
    def closed(self) -> bool:
        return self._closed

    def replace(self, catalog: Catalog) -> bool:
        """Serves `catalog` from now on; False (and nothing changes) if its version is current."""
        with self._changed:
            if catalog.version == self._snapshot.catalog.version:
                return False
            self._snapshot = CatalogSnapshot(catalog, self._clock())
            self._changed.notify_all()
            return True

    def wait_for_change(
        self,
        known_version: str,
        timeout: float,
        *,
        cancelled: Callable[[], bool] = lambda: False,
    ) -> CatalogSnapshot | None:
        """The current snapshot once its version differs from `known_version`.

        None when `timeout` seconds pass first, the holder is closed, or `cancelled()`
        is true; whoever makes `cancelled()` true calls `wake_waiters` so that the
        wait ends at once.
        """
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                if self._closed or cancelled():
                    return None
                if self._snapshot.catalog.version != known_version:
                    return self._snapshot
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
