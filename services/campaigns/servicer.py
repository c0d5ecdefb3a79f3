"""CampaignService over gRPC: translate messages, call the catalog, map errors."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

import grpc

from profilematcher.campaigns.v1 import campaign_service_pb2 as pb
from profilematcher.campaigns.v1 import campaign_service_pb2_grpc as pb_grpc
from services.campaigns.catalog_segments import segments_used_by
from services.campaigns.errors import TooManyWatchers
from services.campaigns.listing import list_page
from services.campaigns.served_catalog import LoadedCatalog, ServedCatalog
from services.codecs.timestamps import datetime_from_timestamp, timestamp_from_datetime
from services.transport.campaign_messages import campaign_to_message, group_to_message
from services.transport.condition_messages import segments_to_messages
from services.transport.status import mapped_errors, mapped_stream_errors

log = logging.getLogger(__name__)

SERVICE_NAME: str = pb.DESCRIPTOR.services_by_name["CampaignService"].full_name


class CampaignServiceServicer(pb_grpc.CampaignServiceServicer):
    """Serves the current catalog of a `ServedCatalog`.

    Each open WatchCampaigns stream occupies one worker thread of the (synchronous)
    server for as long as it is open, so at most `max_watchers` streams are admitted;
    the server's pool must be larger by the threads that unary calls need.
    `heartbeat_seconds` bounds how long a stream waits before it checks again that
    its caller is still there, should a termination callback ever be missed.
    """

    def __init__(
        self, served: ServedCatalog, *, max_watchers: int, heartbeat_seconds: float = 5.0
    ) -> None:
        self._served = served
        self._max_watchers = max_watchers
        self._heartbeat = heartbeat_seconds
        self._watchers = 0
        self._watchers_lock = threading.Lock()

    @mapped_errors
    def ListCampaigns(
        self, request: pb.ListCampaignsRequest, context: grpc.ServicerContext
    ) -> pb.ListCampaignsResponse:
        catalog = self._served.current.catalog
        if request.known_version and request.known_version == catalog.version:
            return pb.ListCampaignsResponse(version=catalog.version, unchanged=True)
        active_at = (
            datetime_from_timestamp(request.active_at, "active_at")
            if request.HasField("active_at")
            else None
        )
        page = list_page(
            catalog,
            game=request.game,
            active_at=active_at,
            page_size=request.page_size,
            page_token=request.page_token,
        )
        return pb.ListCampaignsResponse(
            campaigns=[campaign_to_message(c) for c in page.campaigns],
            version=catalog.version,
            next_page_token=page.next_page_token,
            groups=[group_to_message(g) for g in catalog.groups],
            segments=segments_to_messages(segments_used_by(page.campaigns, catalog.segments)),
        )

    @mapped_stream_errors
    def WatchCampaigns(
        self, request: pb.WatchCampaignsRequest, context: grpc.ServicerContext
    ) -> Iterator[pb.WatchCampaignsResponse]:
        self._admit_watcher()
        try:
            gone = threading.Event()

            def on_termination() -> None:
                gone.set()
                self._served.wake_waiters()

            if not context.add_callback(on_termination):
                return
            loaded = self._served.current
            while True:
                yield _watch_response(loaded)
                following: LoadedCatalog | None = None
                while following is None:
                    if gone.is_set() or self._served.closed or not context.is_active():
                        return
                    following = self._served.wait_for_change(
                        loaded.catalog.version, self._heartbeat, cancelled=gone.is_set
                    )
                loaded = following
        finally:
            with self._watchers_lock:
                self._watchers -= 1

    def _admit_watcher(self) -> None:
        with self._watchers_lock:
            if self._watchers >= self._max_watchers:
                raise TooManyWatchers(self._max_watchers)
            self._watchers += 1

    @property
    def open_watchers(self) -> int:
        with self._watchers_lock:
            return self._watchers


def _watch_response(loaded: LoadedCatalog) -> pb.WatchCampaignsResponse:
    return pb.WatchCampaignsResponse(
        campaigns=[campaign_to_message(c) for c in loaded.catalog.campaigns],
        version=loaded.catalog.version,
        loaded_at=timestamp_from_datetime(loaded.loaded_at),
        groups=[group_to_message(g) for g in loaded.catalog.groups],
        segments=segments_to_messages(
            segments_used_by(loaded.catalog.campaigns, loaded.catalog.segments)
        ),
    )
