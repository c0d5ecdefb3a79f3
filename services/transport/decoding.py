"""Requests that do not parse get INVALID_ARGUMENT, not grpcio's INTERNAL.

grpcio answers a request its deserializer cannot parse with INTERNAL ("Exception
deserializing request!") before any servicer sees it. Bad bytes are the caller's
mistake, and a well-formed client can send them: protobuf refuses to parse a message
nested more than 100 levels deep, which a custom field (a Struct) can be. This
interceptor has the deserializer hand the failure over, and refuses it as invalid.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, TypeAlias

import grpc

from services.domain.errors import InvalidInput

_Handler: TypeAlias = "grpc.RpcMethodHandler[Any, Any]"


class _Undecodable:
    """Stands in for a request message that did not parse."""

    __slots__ = ("problem",)

    def __init__(self, problem: str) -> None:
        self.problem = problem


class RequestDecodingInterceptor(grpc.ServerInterceptor):
    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], _Handler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> _Handler | None:
        handler = continuation(handler_call_details)
        if handler is None or handler.request_deserializer is None:
            return handler
        return _decoding_handler(handler)


def _decoding_handler(handler: _Handler) -> _Handler:
    deserializer = handler.request_deserializer
    assert deserializer is not None

    def decode(data: bytes) -> Any:
        try:
            return deserializer(data)
        except Exception as exc:  # whatever the parser raises, the bytes are at fault
            return _Undecodable(f"not a valid request message ({exc})")

    match handler.request_streaming, handler.response_streaming:
        case False, False:
            behaviour, make = handler.unary_unary, grpc.unary_unary_rpc_method_handler
        case False, True:
            behaviour, make = handler.unary_stream, grpc.unary_stream_rpc_method_handler
        case True, False:
            behaviour, make = handler.stream_unary, grpc.stream_unary_rpc_method_handler
        case _:
            behaviour, make = handler.stream_stream, grpc.stream_stream_rpc_method_handler
    if behaviour is None:  # a malformed handler: leave grpc to report it
        return handler
    inner: Callable[..., Any] = behaviour

    def stream_in(requests: Iterator[Any], context: grpc.ServicerContext, *rest: Any) -> Any:
        return inner(_checked(requests), context, *rest)

    def single_in(request: Any, context: grpc.ServicerContext, *rest: Any) -> Any:
        if isinstance(request, _Undecodable):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"request: {request.problem}")
        return inner(request, context, *rest)

    wrapped = stream_in if handler.request_streaming else single_in
    for hint in ("experimental_non_blocking", "experimental_thread_pool"):
        if hasattr(inner, hint):
            setattr(wrapped, hint, getattr(inner, hint))
    result: _Handler = make(wrapped, decode, handler.response_serializer)
    return result


def _checked(requests: Iterator[Any]) -> Iterator[Any]:
    # Raised inside the servicer's loop, so its error mapping (mapped_errors) answers
    # INVALID_ARGUMENT; aborting here would be overwritten by that mapping.
    for request in requests:
        if isinstance(request, _Undecodable):
            raise InvalidInput("request", request.problem)
        yield request
