"""Requests that do not parse get INVALID_ARGUMENT, not grpcio's INTERNAL.

grpcio answers a request its deserializer cannot parse with INTERNAL ("Exception
deserializing request!") before any servicer sees it. Bad bytes are the caller's
mistake, and a well-formed client can send them: protobuf refuses to parse a message
nested more than 100 levels deep, which a custom field (a Struct) can be. This
interceptor has the deserializer hand the failure over, and refuses it as invalid.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc

from services.domain.errors import InvalidInput
from services.transport.handlers import (
    Behaviour,
    Continuation,
    Handler,
    PerMethod,
    behaviour_of,
    rebuilt,
)


class _Undecodable:
    """Stands in for a request message that did not parse."""

    __slots__ = ("problem",)

    def __init__(self, problem: str) -> None:
        self.problem = problem


class RequestDecodingInterceptor(grpc.ServerInterceptor):
    """Install it innermost: the handlers it is given are then the registered ones,
    the same on every call, and each method's decoding handler is built once."""

    def __init__(self) -> None:
        self._built = PerMethod(_decoding_handler)

    def intercept_service(
        self,
        continuation: Continuation,
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler | None:
        handler = continuation(handler_call_details)
        return None if handler is None else self._built.get(handler_call_details.method, handler)


def _decoding_handler(handler: Handler) -> Handler:
    behaviour = behaviour_of(handler)
    deserializer = handler.request_deserializer
    # Nothing to parse (raw bytes), or a malformed handler that grpc reports.
    if deserializer is None or behaviour is None:
        return handler
    inner: Behaviour = behaviour

    def decode(data: bytes) -> Any:
        try:
            return deserializer(data)
        except Exception as exc:  # whatever the parser raises, the bytes are at fault
            return _Undecodable(f"not a valid request message ({exc})")

    wrapper: Behaviour
    if handler.request_streaming:

        def wrapper(requests: Iterator[Any], context: grpc.ServicerContext, *rest: Any) -> Any:
            return inner(_checked(requests), context, *rest)

    else:

        def wrapper(request: Any, context: grpc.ServicerContext, *rest: Any) -> Any:
            if isinstance(request, _Undecodable):
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"request: {request.problem}")
            return inner(request, context, *rest)

    return rebuilt(handler, wrapper, decode, stands_in_for=inner)


def _checked(requests: Iterator[Any]) -> Iterator[Any]:
    # Raised inside the servicer's loop, so its error mapping (mapped_errors) answers
    # INVALID_ARGUMENT; aborting here would be overwritten by that mapping.
    for request in requests:
        if isinstance(request, _Undecodable):
            raise InvalidInput("request", request.problem)
        yield request
