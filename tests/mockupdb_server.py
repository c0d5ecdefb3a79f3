"""A MockupDB server that pymongo 4.20 accepts, for wire-level MongoDB tests.

mockupdb 1.8.1 works with pymongo 4.20 once its handshake is changed: its
`auto_ismaster=True` reply says maxWireVersion 6 (MongoDB 3.6) and pymongo 4.20
refuses any server below wire version 9 (MongoDB 4.4) with ConfigurationError
("reports wire version 6, but this version of PyMongo requires at least 9"). The
handshake here says wire version 21 (MongoDB 7.0) instead.
"""

from __future__ import annotations

import select
import types
from collections.abc import Iterator
from typing import Any

import mockupdb
import pytest
from mockupdb import MockupDB

HANDSHAKE = {"ismaster": True, "minWireVersion": 0, "maxWireVersion": 21}


def _short_select(rlist: Any, wlist: Any, xlist: Any, timeout: float | None = None) -> Any:
    return select.select(rlist, wlist, xlist, 0.02 if timeout is None else min(timeout, 0.02))


def running_mockupdb(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Body of a fixture: a started MockupDB, stopped afterwards."""
    # MockupDB's accept loop polls with select(..., 1) and stop() waits for it: a
    # second per test. A shorter poll, for mockupdb's module only, makes stop() prompt.
    monkeypatch.setattr(
        mockupdb, "select", types.SimpleNamespace(select=_short_select, error=select.error)
    )
    mock = MockupDB(auto_ismaster=HANDSHAKE)
    mock.autoresponds("endSessions")
    mock.run()
    yield mock
    mock.stop()
