"""InstrumentedStore: every call timed, every exception counted by class and re-raised."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from profilematcher.profiles.v1 import profile_pb2
from services.domain.errors import DependencyUnavailable, ProfileAlreadyExists
from services.domain.profile_json import profile_from_document
from services.observability.metrics import Metrics
from services.observability.store import (
    InstrumentedBatchStore,
    InstrumentedStore,
    instrument_store,
)
from services.storage.base import BatchProfileStore, ServingStore
from services.storage.sqlite_store import SQLiteProfileStore
from tests.matcher.fakes import SpyStore
from tests.observability.conftest import value


@pytest.fixture
def sqlite() -> Iterator[SQLiteProfileStore]:
    store = SQLiteProfileStore.in_memory()
    yield store
    store.close()


def seconds_count(metrics: Metrics, operation: str) -> float:
    return value(
        metrics.registry, "profilematcher_store_operation_seconds_count", operation=operation
    )


def errors(metrics: Metrics, operation: str, error: str) -> float:
    return value(
        metrics.registry, "profilematcher_store_errors_total", operation=operation, error=error
    )


def test_calls_are_timed_and_errors_counted_by_class(
    metrics: Metrics, sqlite: SQLiteProfileStore, sample_profile_doc: dict[str, Any]
) -> None:
    store = instrument_store(sqlite, metrics)
    profile = profile_from_document(sample_profile_doc)
    store.create(profile)
    assert store.get(profile.player_id) == profile
    assert store.get("nobody") is None
    with pytest.raises(ProfileAlreadyExists):
        store.create(profile)

    assert seconds_count(metrics, "create") == 2
    assert seconds_count(metrics, "get") == 2
    assert errors(metrics, "create", "ProfileAlreadyExists") == 1
    assert value(metrics.registry, "profilematcher_store_errors_total", operation="get") == 0


def test_the_exception_is_re_raised_unchanged(metrics: Metrics, sqlite: SQLiteProfileStore) -> None:
    spy = SpyStore(sqlite)
    store = InstrumentedStore(spy, metrics)
    spy.down = True
    with pytest.raises(DependencyUnavailable) as info:
        store.ping()
    assert type(info.value) is DependencyUnavailable
    assert "connection refused" in str(info.value)
    assert errors(metrics, "ping", "DependencyUnavailable") == 1
    assert seconds_count(metrics, "ping") == 1


def test_batch_stores_stay_batch_stores(
    metrics: Metrics, sqlite: SQLiteProfileStore, sample_profile_doc: dict[str, Any]
) -> None:
    batch = instrument_store(sqlite, metrics)
    plain = instrument_store(SpyStore(sqlite), metrics)
    assert isinstance(batch, InstrumentedBatchStore)
    assert isinstance(batch, BatchProfileStore)
    assert not isinstance(plain, BatchProfileStore)
    assert batch.upsert_many([profile_from_document(sample_profile_doc)]) == 1
    assert seconds_count(metrics, "upsert_many") == 1


def test_it_is_a_profile_store(metrics: Metrics, sqlite: SQLiteProfileStore) -> None:
    # Checked by mypy through the annotation; the call proves the delegation.
    store: ServingStore[profile_pb2.Profile] = InstrumentedStore(sqlite, metrics)
    assert store.get_many(["a", "b"]) == {}
    store.set_active_campaigns({"a": ["x"]})
    assert store.delete("a") is False
    assert seconds_count(metrics, "get_many") == 1
    assert seconds_count(metrics, "set_active_campaigns") == 1
    assert seconds_count(metrics, "delete") == 1


def test_serving_reads_count_as_get_many(
    metrics: Metrics, sqlite: SQLiteProfileStore, sample_profile_doc: dict[str, Any]
) -> None:
    profile = profile_from_document(sample_profile_doc)
    sqlite.create(profile)
    spy = SpyStore(sqlite)
    for store in (instrument_store(sqlite, metrics), InstrumentedStore(spy, metrics)):
        read = store.read_for_serving([profile.player_id, "nobody"])
        assert list(read) == [profile.player_id]
    spy.down = True
    with pytest.raises(DependencyUnavailable):
        InstrumentedStore(spy, metrics).read_for_serving([profile.player_id])
    assert seconds_count(metrics, "get_many") == 3
    assert errors(metrics, "get_many", "DependencyUnavailable") == 1
