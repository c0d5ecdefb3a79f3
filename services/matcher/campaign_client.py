"""The matcher's client of CampaignService: messages in, domain catalog out."""

from __future__ import annotations

import grpc

from profilematcher.campaigns.v1 import campaign_service_pb2, campaign_service_pb2_grpc
from services.domain.campaign import Catalog
from services.domain.errors import DependencyTimeout, DependencyUnavailable
from services.transport.convert import campaign_from_message


class CampaignClient:
    def __init__(self, channel: grpc.Channel, *, timeout: float = 2.0) -> None:
        self._stub = campaign_service_pb2_grpc.CampaignServiceStub(channel)
        self._timeout = timeout

    def fetch(self, known_version: str | None, *, timeout: float | None = None) -> Catalog | None:
        """The whole catalog, or None when `known_version` is still current."""
        limit = self._timeout if timeout is None else min(timeout, self._timeout)
        request = campaign_service_pb2.ListCampaignsRequest(known_version=known_version or "")
        try:
            response = self._stub.ListCampaigns(request, timeout=limit)
        except grpc.RpcError as exc:
            raise _dependency_error(exc) from None
        if response.unchanged:
            return None
        return Catalog(
            version=response.version,
            campaigns=tuple(campaign_from_message(c) for c in response.campaigns),
        )


def _dependency_error(exc: grpc.RpcError) -> DependencyUnavailable:
    code: grpc.StatusCode = exc.code()  # type: ignore[attr-defined]
    details: str = exc.details()  # type: ignore[attr-defined]
    message = f"campaign service: {code.name}: {details}"
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return DependencyTimeout(message)
    return DependencyUnavailable(message)
