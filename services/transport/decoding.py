"""Requests that do not parse get INVALID_ARGUMENT, not grpcio's INTERNAL.

grpcio answers a request its deserializer cannot parse with INTERNAL ("Exception
deserializing request!") before any servicer sees it. Bad bytes are the caller's
mistake, and a well-formed client can send them: protobuf refuses to parse a message
nested more than 100 levels deep, which a custom field (a Struct) can be. This
interceptor has the deserializer hand the failure over, and refuses it as invalid
(request_checks.py, shared with the aio server).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc

from services.transport.handlers import (
    Behaviour,
    Continuation,
    Deserializer,
    Handler,
    PerMethod,
    behaviour_of,
    rebuilt,
)
from services.transport.request_checks import Refused, messages, parsed


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
    parse: Deserializer = deserializer

    def decode(data: bytes) -> Any:
        return parsed(parse, data)

    wrapper: Behaviour
    if handler.request_streaming:

        def wrapper(requests: Iterator[Any], context: grpc.ServicerContext, *rest: Any) -> Any:
            # Raised inside the servicer's loop, so its error mapping (mapped_errors)
            # answers; aborting here would be overwritten by that mapping.
            return inner(messages(requests), context, *rest)

    else:

        def wrapper(request: Any, context: grpc.ServicerContext, *rest: Any) -> Any:
            if type(request) is Refused:
                context.abort(*request.status())
            return inner(request, context, *rest)

    return rebuilt(handler, wrapper, decode, stands_in_for=inner)
