"""Shared-secret bearer tokens: the interceptors that make a server's methods need
one, and the metadata a client sends it with.

A server is told by its wiring which methods a token protects (a predicate on the
full method name); nothing here knows any service but health and reflection. A
token sent over a plaintext connection can be read by anyone on the path, so
configure TLS with it anywhere but on a trusted network.

Clients send the token as call metadata rather than grpc call credentials, which
gRPC refuses to send over a plaintext channel.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Sequence
from typing import NoReturn

import grpc
from grpc_health.v1 import health
from grpc_reflection.v1alpha import reflection

from services.transport.handlers import Continuation, Handler, rebuilt

log = logging.getLogger(__name__)

AUTHORIZATION = "authorization"
Metadata = tuple[tuple[str, str], ...]
# Which methods a gate applies to: full method names, "/package.Service/Method".
MethodSelector = Callable[[str], bool]

# A shorter shared secret is within reach of guessing over the network.
_MIN_TOKEN_LENGTH = 16
# Probes and load balancers carry no token; reflection only describes the API.
_ALWAYS_OPEN_SERVICES = frozenset(
    {health.SERVICE_NAME, reflection.SERVICE_NAME, "grpc.reflection.v1.ServerReflection"}
)


def check_token(token: str) -> None:
    """A token must travel as an HTTP/2 header value: printable ASCII, no spaces."""
    if not token:
        raise ValueError("the auth token is empty")
    if not all("!" <= char <= "~" for char in token):
        raise ValueError(
            "the auth token must be printable ASCII without spaces (it is sent as a header)"
        )


def bearer_metadata(token: str | None) -> Metadata:
    """What a call carries to a server that wants `token` (nothing for None)."""
    if token is None:
        return ()
    check_token(token)
    return ((AUTHORIZATION, f"Bearer {token}"),)


def all_methods_except_health_and_reflection(method: str) -> bool:
    service = method.lstrip("/").rpartition("/")[0]
    return service not in _ALWAYS_OPEN_SERVICES


def token_interceptors(
    token: str | None, protected: MethodSelector = all_methods_except_health_and_reflection
) -> list[grpc.ServerInterceptor]:
    """With a token, the methods `protected` selects need it; without one, none do."""
    if not token:
        return []
    return [BearerTokenInterceptor(token, protected)]


class _MethodGate(grpc.ServerInterceptor):
    """Refuses a call to a method that `protected(full_method_name)` selects when
    `_refusal` gives a status and a reason for it.

    The decision is taken before the handler runs, and a refused request is never
    deserialized; client-streaming calls are refused before their first message is
    read. Refusals are logged with method, peer and reason, never with a token.
    """

    def __init__(self, protected: MethodSelector) -> None:
        self._protected = protected

    def intercept_service(
        self,
        continuation: Continuation,
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler | None:
        handler = continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or not self._protected(method):
            return handler
        refusal = self._refusal(handler_call_details.invocation_metadata)
        if refusal is None:
            return handler
        code, reason = refusal
        return _refusing_handler(handler, method, code, reason)

    def _refusal(
        self, metadata: Sequence[tuple[str, str | bytes]] | None
    ) -> tuple[grpc.StatusCode, str] | None:
        raise NotImplementedError

    # The same decision for servers that check calls without interceptors (the aio
    # server, services/transport/aio_calls.py): whether the gate applies to a method,
    # and the status and reason it refuses a call with (None: admitted).
    def protects(self, method: str) -> bool:
        return self._protected(method)

    def refusal(
        self, metadata: Sequence[tuple[str, str | bytes]] | None
    ) -> tuple[grpc.StatusCode, str] | None:
        return self._refusal(metadata)


class BearerTokenInterceptor(_MethodGate):
    """Refuses a call to a method that `protected(full_method_name)` selects unless it
    carries `authorization: Bearer <token>`: UNAUTHENTICATED when the header is
    missing or malformed, PERMISSION_DENIED when the token is wrong.
    """

    def __init__(self, token: str, protected: MethodSelector) -> None:
        check_token(token)
        if len(token) < _MIN_TOKEN_LENGTH:
            log.warning(
                "the auth token has fewer than %d characters; use a long random one "
                "(e.g. `openssl rand -hex 32`)",
                _MIN_TOKEN_LENGTH,
            )
        super().__init__(protected)
        self._expected = token.encode("ascii")

    def _refusal(
        self, metadata: Sequence[tuple[str, str | bytes]] | None
    ) -> tuple[grpc.StatusCode, str] | None:
        values = [value for key, value in metadata or () if key == AUTHORIZATION]
        if not values:
            return grpc.StatusCode.UNAUTHENTICATED, "missing 'authorization: Bearer <token>'"
        if len(values) > 1:
            return grpc.StatusCode.UNAUTHENTICATED, "more than one authorization header"
        value = values[0]
        if isinstance(value, bytes):
            try:
                value = value.decode("ascii")
            except UnicodeDecodeError:
                value = ""
        scheme, _, credentials = value.strip().partition(" ")
        credentials = credentials.strip()
        # RFC 7235: the scheme name is case-insensitive.
        if scheme.lower() != "bearer" or not credentials:
            return grpc.StatusCode.UNAUTHENTICATED, "authorization is not 'Bearer <token>'"
        # Constant time, so response timing does not reveal how much of a guess was right.
        if not hmac.compare_digest(credentials.encode("utf-8"), self._expected):
            return grpc.StatusCode.PERMISSION_DENIED, "invalid bearer token"
        return None


class WritesClosedInterceptor(_MethodGate):
    """For a server with no token configured: refuses the methods `writes` selects,
    UNAUTHENTICATED with `reason` (which should say how to configure a token), so no
    server is open to writes by an oversight."""

    def __init__(self, writes: MethodSelector, reason: str) -> None:
        super().__init__(writes)
        self._reason = reason

    def _refusal(
        self, metadata: Sequence[tuple[str, str | bytes]] | None
    ) -> tuple[grpc.StatusCode, str] | None:
        return grpc.StatusCode.UNAUTHENTICATED, self._reason


def log_refusal(method: str, peer: str, reason: str) -> None:
    """One refused call, on this module's logger whichever server refused it (the aio
    server checks its calls in services/transport/aio_calls.py): never the token."""
    log.warning("refused %s from %s: %s", method, peer, reason)


def _refusing_handler(handler: Handler, method: str, code: grpc.StatusCode, reason: str) -> Handler:
    def refuse(_request: object, context: grpc.ServicerContext) -> NoReturn:
        # Logged here rather than in the interceptor: only the context knows the peer.
        log_refusal(method, context.peer(), reason)
        context.abort(code, reason)

    # Same kind as the real handler, so grpc drives the call the same way; no
    # deserializer, so an unauthenticated request body is never parsed.
    return rebuilt(handler, refuse, None)
