"""GetClientConfig over real pymongo on the wire while MongoDB hangs, errs, dies and returns.

MockupDB plays MongoDB. Every call must end with a clear status well inside the
caller's deadline: the server's own store timeout answers first, so the status
comes from the matcher (its message names the profile store), not from the client
giving up. MongoDB's own words and address go to the log, never to the client.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from mockupdb import MockupDB, OpMsg, go

from profilematcher.matcher.v1 import matcher_service_pb2 as pb
from profilematcher.matcher.v1 import matcher_service_pb2_grpc
from services.domain.profile_json import profile_from_document, profile_to_document
from services.storage.mongo_store import MongoProfileStore, mongo_client
from tests.matcher.conftest import start
from tests.matcher.fakes import CampaignServer, SpyStore, eventually
from tests.mockupdb_server import HANDSHAKE, running_mockupdb

PLAYER = "97983be2-98b7-11e7-90cf-082e5f28d836"
STORE_TIMEOUT = 0.5
CALLER_DEADLINE = 10.0


@pytest.fixture
def mongo(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    yield from running_mockupdb(monkeypatch)


@pytest.fixture
def stub(mongo: Any, campaigns: CampaignServer) -> Iterator[Any]:
    client = mongo_client(
        mongo.uri, server_selection_timeout=STORE_TIMEOUT, operation_timeout=STORE_TIMEOUT
    )
    store = MongoProfileStore(client["profilematcher"]["profiles"], owns_client=True)
    server = start(SpyStore(store), campaigns)
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        yield matcher_service_pb2_grpc.ProfileMatcherServiceStub(channel)
    server.stop(0)
    store.close()


def call(stub: Any) -> Any:
    return stub.GetClientConfig(
        pb.GetClientConfigRequest(player_id=PLAYER), timeout=CALLER_DEADLINE
    )


def refused(stub: Any) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        call(stub)
    return info.value


def answer_find(mongo: Any, doc: dict[str, Any] | None) -> None:
    request = mongo.receives(OpMsg("find", "profiles"))
    request.reply(
        cursor={"id": 0, "ns": "profilematcher.profiles", "firstBatch": [doc] if doc else []}
    )


def test_mongodb_that_hangs_is_deadline_exceeded_from_the_store(mongo: Any, stub: Any) -> None:
    future = go(refused, stub)
    mongo.receives(OpMsg("find", "profiles"))  # and never answers
    error = future()
    assert error.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert error.details() == "could not read profiles: the profile store did not answer in time"


def test_mongodb_error_reply_is_unavailable_with_its_message_in_the_log(
    mongo: Any, stub: Any, caplog: pytest.LogCaptureFixture
) -> None:
    future = go(refused, stub)
    mongo.receives(OpMsg("find", "profiles")).command_err(13, "not authorized on profilematcher")
    error = future()
    assert error.code() == grpc.StatusCode.UNAVAILABLE
    assert error.details() == "could not read profiles: the profile store refused it"
    assert "not authorized on profilematcher (code 13)" in caplog.text


def test_mongodb_retryable_error_is_retried_then_a_retry_safe_status(mongo: Any, stub: Any) -> None:
    # pymongo retries "not primary" within the store's time budget, then gives up.
    mongo.autoresponds(OpMsg("find", "profiles"), {"ok": 0, "code": 10107, "errmsg": "not primary"})
    error = refused(stub)
    assert error.code() in {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED}
    assert "profile store" in (error.details() or "")


def test_mongodb_down_is_unavailable_then_service_resumes(
    mongo: Any, stub: Any, sample_profile_doc: dict[str, Any]
) -> None:
    port = mongo.port
    mongo.stop()
    error = refused(stub)
    assert error.code() in {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED}
    assert "profile store" in (error.details() or "")
    assert str(port) not in (error.details() or "")

    # MongoDB comes back on the same address: the next calls succeed by themselves.
    revived = MockupDB(port=port, auto_ismaster=HANDSHAKE)
    revived.autoresponds("endSessions")
    revived.run()
    try:
        # As MongoDB answers the store's query: the document, keyed by the player id.
        doc = {"_id": PLAYER, **profile_to_document(profile_from_document(sample_profile_doc))}
        revived.autoresponds(
            OpMsg("find", "profiles"),
            cursor={"id": 0, "ns": "profilematcher.profiles", "firstBatch": [doc]},
        )
        revived.autoresponds(OpMsg("update", "profiles"), n=1, nModified=1)

        def succeeds() -> list[str]:
            return list(call(stub).profile.active_campaigns)

        assert eventually(succeeds) == ["mycampaign"]
    finally:
        revived.stop()


def test_unknown_player_on_the_wire_is_not_found(mongo: Any, stub: Any) -> None:
    future = go(refused, stub)
    answer_find(mongo, None)
    assert future().code() == grpc.StatusCode.NOT_FOUND
