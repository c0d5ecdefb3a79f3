"""Fixtures of the process tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from services.domain.profile_json import profile_from_document
from services.storage.sqlite_store import SQLiteProfileStore


@pytest.fixture
def store_file(tmp_path: Path, sample_profile_doc: dict[str, Any]) -> Path:
    """An embedded store file holding the sample profile, for workers to share."""
    path = tmp_path / "profiles.db"
    store = SQLiteProfileStore.open(path)
    store.create(profile_from_document(sample_profile_doc))
    store.close()
    return path
