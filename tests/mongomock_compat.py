"""Lets mongomock 4.3 run the bulk writes of pymongo 4.11 and later.

pymongo 4.11+ passes `sort=` when an UpdateOne/ReplaceOne joins a bulk write;
mongomock 4.3's BulkOperationBuilder predates that keyword, so every `bulk_write`
on a mongomock collection raises TypeError. The stores never sort, so the shim
insists `sort` is None and drops it.

Loaded for every test by tests/conftest.py.
"""

from __future__ import annotations

from typing import Any

import mongomock.collection
import pytest


@pytest.fixture(autouse=True)
def mongomock_bulk_compat(monkeypatch: pytest.MonkeyPatch) -> None:
    builder = mongomock.collection.BulkOperationBuilder
    add_update: Any = builder.add_update
    add_replace: Any = builder.add_replace

    def update(self: Any, *args: Any, sort: Any = None, **kwargs: Any) -> Any:
        assert sort is None
        return add_update(self, *args, **kwargs)

    def replace(self: Any, *args: Any, sort: Any = None, **kwargs: Any) -> Any:
        assert sort is None
        return add_replace(self, *args, **kwargs)

    monkeypatch.setattr(builder, "add_update", update)
    monkeypatch.setattr(builder, "add_replace", replace)
