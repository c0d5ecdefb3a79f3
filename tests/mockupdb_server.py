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


ID_INDEX = {"v": 2, "key": {"_id": 1}, "name": "_id_"}
# The previous layout's unique index (services/storage/mongo_layout.py).
PLAYER_ID_INDEX = {"v": 2, "key": {"player_id": 1}, "name": "player_id_1", "unique": True}


def reply_indexes(request: Any, indexes: list[dict[str, Any]]) -> None:
    """Answers a listIndexes request, as a server does, in one batch."""
    request.ok(cursor={"id": 0, "ns": f"{request.namespace}.profiles", "firstBatch": indexes})


class ScriptedProfiles:
    """Answers find and getMore on `profiles` over `documents` as MongoDB 5.0+ does,
    and records every command it sees.

    A first batch that is exactly full, with no limit reached, leaves the cursor open
    (a non-zero id: the server does not look ahead), so a client that asked too
    little pays a getMore to learn there is nothing more. The cursor is closed (id
    0) when the limit is reached, when a single batch was asked for, or when the
    results run out before the batch is full. The default first batch is 101.
    """

    def __init__(self, mock: MockupDB, documents: list[dict[str, Any]]) -> None:
        self.commands: list[str] = []
        self._documents = documents
        self._open: dict[int, list[dict[str, Any]]] = {}
        mock.autoresponds(mockupdb.Matcher(), self._answer)

    def _answer(self, request: Any) -> bool:
        # Anything else (the handshake, endSessions) is left to the other responders.
        handler = {
            "find": self._find,
            "getMore": self._get_more,
            "killCursors": self._kill_cursors,
        }.get(request.command_name)
        return False if handler is None else handler(request)

    def _find(self, request: Any) -> bool:
        self.commands.append("find")
        wanted = request["filter"]["_id"]
        ids = wanted["$in"] if isinstance(wanted, dict) else [wanted]
        found = [d for d in self._documents if d["_id"] in ids]
        limit = request.doc.get("limit", 0)
        batch_size = request.doc.get("batchSize", 101)
        results = found[:limit] if limit else found
        first = results[:batch_size]
        closed = (
            request.doc.get("singleBatch", False)
            or (limit and len(first) >= limit)
            or len(first) < batch_size
        )
        cursor_id = 0
        if not closed:
            cursor_id = len(self._open) + 1
            self._open[cursor_id] = results[batch_size:]
        ns = f"{request.namespace}.profiles"
        return bool(request.ok(cursor={"id": cursor_id, "ns": ns, "firstBatch": first}))

    def _get_more(self, request: Any) -> bool:
        self.commands.append("getMore")
        rest = self._open.pop(request["getMore"], [])
        ns = f"{request.namespace}.profiles"
        return bool(request.ok(cursor={"id": 0, "ns": ns, "nextBatch": rest}))

    def _kill_cursors(self, request: Any) -> bool:
        self.commands.append("killCursors")
        for cursor_id in request["cursors"]:
            self._open.pop(cursor_id, None)
        return bool(request.ok(cursorsKilled=request["cursors"]))
