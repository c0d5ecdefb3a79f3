"""The matcher's client of CampaignService: messages in, domain catalogs out."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import grpc

from profilematcher.campaigns.v1 import (
    campaign_pb2,
    campaign_service_pb2,
    campaign_service_pb2_grpc,
    condition_pb2,
    experiment_pb2,
)
from services.domain.campaign import Catalog
from services.domain.conditions import ConditionError
from services.domain.errors import DependencyTimeout, DependencyUnavailable
from services.transport.auth import bearer_metadata
from services.transport.campaign_messages import campaign_from_message, group_from_message
from services.transport.condition_messages import segments_from_messages


class CatalogStream:
    """An open WatchCampaigns call: iterate for catalogs, `cancel` to end it."""

    def __init__(
        self,
        call: grpc._CallIterator[campaign_service_pb2.WatchCampaignsResponse],
        on_unavailable: Callable[[], None] | None = None,
    ) -> None:
        self._call = call
        self._on_unavailable = on_unavailable

    def __iter__(self) -> Iterator[Catalog]:
        try:
            for message in self._call:
                yield _catalog(message.version, message.campaigns, message.segments, message.groups)
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.CANCELLED:
                raise _dependency_error(exc, self._on_unavailable) from None

    def cancel(self) -> None:
        self._call.cancel()


class CampaignClient:
    """`token`: sent as `authorization: Bearer` on every call, the watch included.
    `on_unavailable` runs on every UNAVAILABLE (with TLS: a probe that logs why the
    handshake fails, which grpc does not say)."""

    def __init__(
        self,
        channel: grpc.Channel,
        *,
        timeout: float = 2.0,
        token: str | None = None,
        on_unavailable: Callable[[], None] | None = None,
    ) -> None:
        self._stub = campaign_service_pb2_grpc.CampaignServiceStub(channel)
        self._timeout = timeout
        self._metadata = bearer_metadata(token)
        self._on_unavailable = on_unavailable

    def fetch(self, known_version: str | None, *, timeout: float | None = None) -> Catalog | None:
        """The whole catalog, or None when `known_version` is still current."""
        limit = self._timeout if timeout is None else min(timeout, self._timeout)
        request = campaign_service_pb2.ListCampaignsRequest(known_version=known_version or "")
        try:
            response = self._stub.ListCampaigns(request, timeout=limit, metadata=self._metadata)
        except grpc.RpcError as exc:
            raise _dependency_error(exc, self._on_unavailable) from None
        if response.unchanged:
            return None
        return _catalog(response.version, response.campaigns, response.segments, response.groups)

    def watch(self) -> CatalogStream:
        return CatalogStream(
            self._stub.WatchCampaigns(
                campaign_service_pb2.WatchCampaignsRequest(), metadata=self._metadata
            ),
            self._on_unavailable,
        )


def _catalog(
    version: str,
    campaigns: Iterable[campaign_pb2.Campaign],
    segments: Iterable[condition_pb2.Segment] = (),
    groups: Iterable[experiment_pb2.Group] = (),
) -> Catalog:
    """The catalog of a response; DependencyUnavailable if a condition in it cannot be
    read (a campaign service newer than this matcher, say), so the last good catalog
    stays in use."""
    try:
        by_name = segments_from_messages(segments)
        return Catalog(
            version=version,
            campaigns=tuple(campaign_from_message(c, by_name) for c in campaigns),
            segments=tuple(by_name[name] for name in sorted(by_name)),
            groups=tuple(group_from_message(g) for g in groups),
        )
    except ConditionError as exc:
        raise DependencyUnavailable(
            f"campaign service: catalog {version}: cannot read a condition: {exc}",
            public="the campaign service sent a catalog this matcher cannot read",
        ) from None


def _dependency_error(
    exc: grpc.RpcError, on_unavailable: Callable[[], None] | None
) -> DependencyUnavailable:
    code = exc.code()
    if code == grpc.StatusCode.UNAVAILABLE and on_unavailable is not None:
        on_unavailable()
    # The detail (the service's address, grpc's words) is for the log only.
    message = f"campaign service: {code.name}: {exc.details() or 'no details'}"
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return DependencyTimeout(message, public="the campaign service did not answer in time")
    return DependencyUnavailable(message, public="the campaign service is unavailable")
