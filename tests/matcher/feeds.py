"""A client stream the test drives by hand: it sends what it is given, when it is given."""

from __future__ import annotations

import queue
from collections.abc import Iterator

from profilematcher.profiles.v1 import profile_pb2
from profilematcher.profiles.v1 import profile_service_pb2 as pb


class Feed:
    """Request iterator for ImportProfiles; sends nothing until told, ends on `close`."""

    def __init__(self) -> None:
        self._items: queue.Queue[pb.ImportProfilesRequest | None] = queue.Queue()

    def send(self, profile: profile_pb2.Profile) -> None:
        self._items.put(pb.ImportProfilesRequest(profile=profile))

    def close(self) -> None:
        """Ends the stream (idempotent: gRPC stops reading after the first end)."""
        self._items.put(None)

    def __iter__(self) -> Iterator[pb.ImportProfilesRequest]:
        while (item := self._items.get()) is not None:
            yield item
