"""Shared test settings: deterministic hypothesis runs, and the brief's sample data."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from services.domain.profile_json import profile_from_document
from services.storage.sqlite_store import SQLiteProfileStore

# An autouse fixture: lets every test run the MongoDB store on mongomock.
from tests.matcher.fakes import CampaignServer, FakeCampaignService, sample_campaign
from tests.mongomock_compat import mongomock_bulk_compat

__all__ = ["mongomock_bulk_compat"]

# Derandomized so that a run is reproducible and CI never flakes on a new example;
# no per-example deadline because shared machines are noisy.
settings.register_profile(
    "default",
    derandomize=True,
    deadline=None,
    max_examples=200,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("default")

# The brief's samples, verbatim; tests read nothing outside the repository.
TEST_DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture
def sample_profile_doc() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((TEST_DATA / "profile.json").read_text())
    return doc


@pytest.fixture
def sample_store(sample_profile_doc: dict[str, Any]) -> Iterator[SQLiteProfileStore]:
    """The embedded store in memory, holding the sample profile."""
    store = SQLiteProfileStore.in_memory()
    store.create(profile_from_document(sample_profile_doc))
    yield store
    store.close()


@pytest.fixture
def sample_campaign_doc() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((TEST_DATA / "campaign.json").read_text())
    return doc


@pytest.fixture(autouse=True)
def fresh_dependency_log(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test logs its dependency failures afresh: the process-wide log leaves out
    repeats of a detail, which would hide one test's line behind another's."""
    from services.transport import status

    monkeypatch.setattr(status, "dependency_log", status.RepeatLimitedLog(status.LOG_REPEATS_AFTER))


@pytest.fixture
def campaigns() -> Iterator[CampaignServer]:
    """A fake campaign service serving the brief's sample campaign (the matcher's and
    the process tests' campaign service)."""
    server = CampaignServer(FakeCampaignService([sample_campaign()]))
    server.start()
    yield server
    server.stop()
