"""Who may call the matcher: its TLS credentials, and which of its methods need the
auth token.

Which methods write is read here from ProfileService's descriptor and told to the
interceptors (services/transport/auth.py), which know no service of their own.
"""

from __future__ import annotations

import logging

import grpc

from profilematcher.profiles.v1 import profile_service_pb2
from services.matcher.settings import MatcherSettings
from services.transport.auth import (
    BearerTokenInterceptor,
    WritesClosedInterceptor,
    all_methods_except_health_and_reflection,
)
from services.transport.grpc_server import ServerSecurity
from services.transport.tls import server_credentials

log = logging.getLogger(__name__)

_PROFILE_SERVICE = profile_service_pb2.DESCRIPTOR.services_by_name["ProfileService"]
# Listed by reads rather than by writes so that a new RPC is protected until someone
# decides it is a read.
_PROFILE_READS = frozenset({"GetProfile"})
PROFILE_WRITE_METHODS = frozenset(
    f"/{_PROFILE_SERVICE.full_name}/{method.name}"
    for method in _PROFILE_SERVICE.methods
    if method.name not in _PROFILE_READS
)

# Clients read it: it says how to configure the server, never anything secret.
WRITES_CLOSED = (
    "writes need an auth token: start the matcher with --auth-token-file or --auth-token "
    "(env PROFILE_MATCHER_AUTH_TOKEN_FILE, PROFILE_MATCHER_AUTH_TOKEN) and send "
    "'authorization: Bearer <token>'; or, on a trusted network only, with "
    "--allow-unauthenticated-writes (env PROFILE_MATCHER_ALLOW_UNAUTHENTICATED_WRITES=true)"
)


def server_security(settings: MatcherSettings) -> ServerSecurity:
    """The matcher server's credentials (None: plaintext) and auth interceptors.
    Raises ValueError for an unusable TLS file or token."""
    return ServerSecurity(
        credentials=server_credentials(settings.tls),
        interceptors=auth_interceptors(
            settings.auth_token,
            public_reads=settings.public_reads,
            allow_unauthenticated_writes=settings.allow_unauthenticated_writes,
        ),
    )


def write_methods_of_profile_service(method: str) -> bool:
    """Protects CreateProfile, UpdateProfile, DeleteProfile and ImportProfiles."""
    return method in PROFILE_WRITE_METHODS


def auth_interceptors(
    token: str | None, *, public_reads: bool = False, allow_unauthenticated_writes: bool = False
) -> list[grpc.ServerInterceptor]:
    """With a token, every method but health and reflection needs it (only
    ProfileService's writes with `public_reads`). Without one, the writes are refused
    unless `allow_unauthenticated_writes` (ignored when a token is set)."""
    if token:
        protected = (
            write_methods_of_profile_service
            if public_reads
            else all_methods_except_health_and_reflection
        )
        return [BearerTokenInterceptor(token, protected)]
    if allow_unauthenticated_writes:
        log.warning(
            "no auth token and writes allowed without one: anyone who reaches this server "
            "can create, change and delete profiles"
        )
        return []
    return [WritesClosedInterceptor(write_methods_of_profile_service, WRITES_CLOSED)]
