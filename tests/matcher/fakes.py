"""Test doubles at the process boundary: a CampaignService and a store we can steer."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent import futures
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import grpc

from profilematcher.campaigns.v1 import campaign_service_pb2 as pb
from profilematcher.campaigns.v1 import campaign_service_pb2_grpc
from profilematcher.profiles.v1 import profile_pb2
from services.domain.campaign import Campaign, LevelRange
from services.domain.errors import DependencyUnavailable
from services.storage.base import ServingStore
from services.storage.mongo_store import MongoProfileStore
from services.storage.sqlite_store import SQLiteProfileStore
from services.storage.wrapper import StoreWrapper
from services.transport.campaign_messages import campaign_to_message

T = TypeVar("T")

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def sample_campaign(**changes: Any) -> Campaign:
    """The brief's sample campaign, live at NOW."""
    fields: dict[str, Any] = {
        "game": "mygame",
        "name": "mycampaign",
        "priority": 10.5,
        "level": LevelRange(1, 3),
        "countries": ("US", "RO", "CA"),
        "required_items": ("item_1",),
        "forbidden_items": ("item_4",),
        "start_date": NOW - timedelta(days=1),
        "end_date": NOW + timedelta(days=30),
        "enabled": True,
    }
    fields.update(changes)
    return Campaign(**fields)


class FakeCampaignService(campaign_service_pb2_grpc.CampaignServiceServicer):
    """Serves whatever catalog the test sets; counts ListCampaigns calls."""

    def __init__(self, campaigns: Sequence[Campaign] = (), *, watchable: bool = True) -> None:
        self.campaigns = tuple(campaigns)
        self.version = "v1"
        self.list_calls = 0
        self.watchable = watchable
        self._changed = threading.Condition()

    def set_catalog(self, campaigns: Sequence[Campaign], version: str) -> None:
        with self._changed:
            self.campaigns, self.version = tuple(campaigns), version
            self._changed.notify_all()

    def WatchCampaigns(  # noqa: N802
        self, request: pb.WatchCampaignsRequest, context: grpc.ServicerContext
    ) -> Iterator[pb.WatchCampaignsResponse]:
        if not self.watchable:
            context.abort(grpc.StatusCode.UNIMPLEMENTED, "no watch in this test")
        sent = None
        while context.is_active():
            with self._changed:
                if sent == self.version:
                    self._changed.wait(timeout=0.05)
                    continue
                sent, campaigns = self.version, self.campaigns
            yield pb.WatchCampaignsResponse(
                version=sent, campaigns=[campaign_to_message(c) for c in campaigns]
            )

    def ListCampaigns(  # noqa: N802
        self, request: pb.ListCampaignsRequest, context: grpc.ServicerContext
    ) -> pb.ListCampaignsResponse:
        self.list_calls += 1
        if request.known_version == self.version:
            return pb.ListCampaignsResponse(version=self.version, unchanged=True)
        return pb.ListCampaignsResponse(
            version=self.version, campaigns=[campaign_to_message(c) for c in self.campaigns]
        )


class CampaignServer:
    """A real gRPC server on a fixed local port, so it can be stopped and started again."""

    def __init__(self, service: FakeCampaignService) -> None:
        self.service = service
        self.port = 0  # chosen by the first start, kept for restarts
        self._server: grpc.Server | None = None

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        # No SO_REUSEPORT: a restart must get this port back, not share it.
        server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=4), options=[("grpc.so_reuseport", 0)]
        )
        campaign_service_pb2_grpc.add_CampaignServiceServicer_to_server(self.service, server)
        self.port = server.add_insecure_port(self.target)
        server.start()
        self._server = server

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop(None).wait()
            self._server = None


class SpyStore(StoreWrapper[profile_pb2.Profile]):
    """Wraps a real store: records active_campaigns writes, can fail on demand, and runs
    hooks before reads, before the write-back (to race another writer) and before
    audience counts."""

    def __init__(self, inner: ServingStore[profile_pb2.Profile]) -> None:
        super().__init__(inner)
        self.active_writes: list[dict[str, tuple[str, ...]]] = []
        self.down = False
        self.before_read: list[Callable[[], object]] = []
        self.before_write: list[Callable[[], object]] = []
        self.before_count: list[Callable[[], object]] = []
        self._lock = threading.Lock()

    def _around(self, operation: str, call: Callable[[], T]) -> T:
        if self.down and operation != "close":
            raise DependencyUnavailable("profile store: connection refused (test)")
        hooks = {"get_many": self.before_read, "count_audience": self.before_count}
        for hook in hooks.get(operation, ()):
            hook()
        return call()

    def corrupt(self, player_id: str, field: str, value: str) -> None:
        """Edits the stored record behind the store's back, as a hand edit of the database
        would: `field` then holds a value no valid profile has."""
        if isinstance(self.inner, MongoProfileStore):
            self.inner.collection.update_one({"player_id": player_id}, {"$set": {field: value}})
            return
        assert isinstance(self.inner, SQLiteProfileStore)
        # The message column cannot hold a string in an integer field; the column of
        # custom fields can hold a known field's name, which no valid row has.
        with self.inner._db.write("corrupt", None) as conn:
            conn.execute(
                "UPDATE profiles SET custom = json_set(coalesce(custom, '{}'), ?, ?)"
                " WHERE player_id = ?",
                (f"$.{field}", value, player_id),
            )

    def set_active_campaigns(
        self, updates: Mapping[str, Sequence[str]], *, timeout: float | None = None
    ) -> None:
        if not self.down:
            for hook in self.before_write:
                hook()
            with self._lock:
                self.active_writes.append({k: tuple(v) for k, v in updates.items()})
        super().set_active_campaigns(updates, timeout=timeout)


def eventually(check: Callable[[], T], *, timeout: float = 10.0) -> T:
    """Retries `check` until it stops raising (AssertionError or grpc.RpcError)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except (AssertionError, grpc.RpcError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
