"""The token interceptors guard the methods the wiring names, on any service: they
know none of their own but health and reflection."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.transport.auth import WritesClosedInterceptor, bearer_metadata, token_interceptors
from tests.security.conftest import Serve, target

Metadata = tuple[tuple[str, str | bytes], ...]
SERVICE = "test.v1.Notes"
WRITE, READ = f"/{SERVICE}/Write", f"/{SERVICE}/Read"
TOKEN = "0123456789abcdef-gate-token"
CLOSED = "writes are closed here: configure a token"
SERVING = health_pb2.HealthCheckResponse.SERVING


def _echo(request: bytes, _context: grpc.ServicerContext) -> bytes:
    return request


def _notes(server: grpc.Server) -> Sequence[str]:
    handlers: dict[str, grpc.RpcMethodHandler[Any, Any]] = {
        name: grpc.unary_unary_rpc_method_handler(_echo) for name in ("Write", "Read")
    }
    # Both ways, as generated code registers a service (the aio server wraps the
    # registered handlers and refuses a service registered only as a generic one).
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
    server.add_registered_method_handlers(SERVICE, handlers)
    return (SERVICE,)


def call(address: str, method: str, metadata: Metadata = ()) -> tuple[grpc.StatusCode, str]:
    """The call's status code and details (OK and "" when it succeeds)."""
    with grpc.insecure_channel(address) as channel:
        try:
            stub: grpc.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(method)
            assert stub(b"note", timeout=10, metadata=metadata) == b"note"
        except grpc.RpcError as exc:
            return exc.code(), exc.details() or ""
    return grpc.StatusCode.OK, ""


def writes(method: str) -> bool:
    return method == WRITE


def health_status(address: str) -> int:
    with grpc.insecure_channel(address) as channel:
        response = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(), timeout=10
        )
    status: int = response.status
    return status


def test_writes_closed_refuses_only_the_methods_it_is_told_with_the_reason_given(
    serve: Serve,
) -> None:
    address = target(serve(interceptors=[WritesClosedInterceptor(writes, CLOSED)], register=_notes))
    assert call(address, WRITE) == (grpc.StatusCode.UNAUTHENTICATED, CLOSED)
    assert call(address, READ) == (grpc.StatusCode.OK, "")
    assert health_status(address) == SERVING


def test_a_token_guards_only_the_methods_it_is_told(serve: Serve) -> None:
    address = target(serve(interceptors=token_interceptors(TOKEN, writes), register=_notes))
    assert call(address, WRITE)[0] == grpc.StatusCode.UNAUTHENTICATED
    assert call(address, WRITE, bearer_metadata(TOKEN))[0] == grpc.StatusCode.OK
    assert call(address, READ)[0] == grpc.StatusCode.OK


def test_by_default_a_token_guards_every_method_but_health(serve: Serve) -> None:
    address = target(serve(interceptors=token_interceptors(TOKEN), register=_notes))
    for method in (WRITE, READ):
        assert call(address, method)[0] == grpc.StatusCode.UNAUTHENTICATED, method
        assert call(address, method, bearer_metadata(TOKEN))[0] == grpc.StatusCode.OK, method
    # Probes carry no token.
    assert health_status(address) == SERVING


def test_no_token_means_no_gate() -> None:
    assert token_interceptors(None, writes) == []
    assert token_interceptors("", writes) == []
