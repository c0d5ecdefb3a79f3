"""The matcher process's one wiring point: settings in, running server out."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import grpc

from profilematcher.matcher.v1 import matcher_service_pb2, matcher_service_pb2_grpc
from profilematcher.profiles.v1 import profile_service_pb2, profile_service_pb2_grpc
from services.domain.errors import DependencyUnavailable
from services.matcher.campaign_cache import CampaignCache
from services.matcher.campaign_client import CampaignClient
from services.matcher.client_config import ClientConfigs
from services.matcher.profile_servicer import ProfileServicer
from services.matcher.servicer import ProfileMatcherServicer
from services.storage.base import ProfileStore
from services.transport.server import RunningServer, ServerOptions, create_server, start_server

log = logging.getLogger(__name__)

SERVICE_NAMES = (
    matcher_service_pb2.DESCRIPTOR.services_by_name["ProfileMatcherService"].full_name,
    profile_service_pb2.DESCRIPTOR.services_by_name["ProfileService"].full_name,
)


@dataclass(frozen=True, slots=True)
class MatcherSettings:
    server: ServerOptions = field(default_factory=lambda: ServerOptions(port=50051))
    campaigns_target: str = "localhost:50052"
    catalog_ttl: float = 300.0
    campaigns_timeout: float = 2.0


@dataclass(slots=True)
class MatcherServer:
    running: RunningServer
    cache: CampaignCache
    channel: grpc.Channel

    @property
    def port(self) -> int:
        return self.running.port

    def stop(self, grace: float | None = None) -> None:
        self.running.stop(grace)
        self.channel.close()


def start_matcher(
    settings: MatcherSettings,
    store: ProfileStore,
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> MatcherServer:
    """Starts serving; the store is the caller's (it owns the one client per process)."""
    channel = grpc.insecure_channel(settings.campaigns_target)
    cache = CampaignCache(
        CampaignClient(channel, timeout=settings.campaigns_timeout), ttl=settings.catalog_ttl
    )
    server = create_server(settings.server)
    matcher_service_pb2_grpc.add_ProfileMatcherServiceServicer_to_server(
        ProfileMatcherServicer(ClientConfigs(store, cache, clock)), server
    )
    profile_service_pb2_grpc.add_ProfileServiceServicer_to_server(ProfileServicer(store), server)
    running = start_server(server, settings.server, SERVICE_NAMES)
    try:
        cache.current(timeout=settings.campaigns_timeout)
    except DependencyUnavailable as exc:
        # Not fatal: the first request retries, and answers UNAVAILABLE until it succeeds.
        log.warning("no campaign catalog yet: %s", exc)
    running.set_serving(True)
    return MatcherServer(running, cache, channel)
