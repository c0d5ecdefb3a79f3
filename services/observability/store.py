"""A ProfileStore that times every call and counts the ones that raise."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

from services.domain.errors import StoredProfileCorrupt
from services.domain.profile import ServingRecord
from services.observability.metrics import Metrics
from services.storage.base import BatchProfileStore, ServingStore
from services.storage.wrapper import BatchStoreWrapper, StoreWrapper, as_batch_store

T = TypeVar("T")
R = TypeVar("R")

OPERATIONS = (
    "get",
    "get_many",
    "set_active_campaigns",
    "create",
    "upsert",
    "upsert_many",
    "update_fields",
    "delete",
    "ping",
    "count_audience",
    "close",
)


def instrument_store(
    store: ServingStore[R], metrics: Metrics, *, timer: Callable[[], float] = time.perf_counter
) -> ServingStore[R]:
    """`store`, instrumented; still a BatchProfileStore when `store` is one, so bulk
    imports keep their batched writes."""
    if isinstance(store, BatchProfileStore):
        return InstrumentedBatchStore(store, metrics, timer=timer)
    return InstrumentedStore(store, metrics, timer=timer)


class InstrumentedStore(StoreWrapper[R]):
    """Wraps a ProfileStore: every call goes into profilematcher_store_operation_seconds,
    every exception into profilematcher_store_errors_total by class name, and is then
    re-raised as it was, so callers map it to a status code as before."""

    def __init__(
        self,
        inner: ServingStore[R],
        metrics: Metrics,
        *,
        timer: Callable[[], float] = time.perf_counter,
    ) -> None:
        super().__init__(inner)
        self._timer = timer
        self._errors = metrics.store_errors
        self._seconds = {op: metrics.store_seconds.labels(operation=op) for op in OPERATIONS}
        self._read_seconds = self._seconds["get_many"]

    def _around(self, operation: str, call: Callable[[], T]) -> T:
        start = self._timer()
        try:
            return call()
        except Exception as exc:
            self._errors.labels(operation=operation, error=type(exc).__name__).inc()
            raise
        finally:
            self._seconds[operation].observe(self._timer() - start)

    def read_for_serving(
        self, player_ids: Sequence[str], *, timeout: float | None = None
    ) -> Mapping[str, ServingRecord[R] | StoredProfileCorrupt]:
        # Every GetClientConfig's read: `_around("get_many", ...)` written out, so the
        # hottest call makes no closure and no extra calls on its way to the store.
        start = self._timer()
        try:
            return self.inner.read_for_serving(player_ids, timeout=timeout)
        except Exception as exc:
            self._errors.labels(operation="get_many", error=type(exc).__name__).inc()
            raise
        finally:
            self._read_seconds.observe(self._timer() - start)


class InstrumentedBatchStore(BatchStoreWrapper[R], InstrumentedStore[R]):
    """The same over a BatchProfileStore, keeping `upsert_many`."""

    def __init__(
        self,
        inner: ServingStore[R],
        metrics: Metrics,
        *,
        timer: Callable[[], float] = time.perf_counter,
    ) -> None:
        InstrumentedStore.__init__(self, inner, metrics, timer=timer)
        self._batch_inner = as_batch_store(inner)
