"""Rebuilding a gRPC method handler around another behaviour, as our interceptors do.

A handler is of one of four kinds (a single or streamed request, a single or streamed
response), and grpc runs the behaviour of its kind. grpc also reads two hints off that
function itself: `experimental_non_blocking` (a response stream sent through a
callback, as health's Watch does) and `experimental_thread_pool` (the pool the call
runs on, services/transport/pools.py). A wrapper that stands in for a behaviour
takes both over (`rebuilt(..., stands_in_for=...)`), or grpc would run the call differently.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeAlias

import grpc

Behaviour: TypeAlias = Callable[..., Any]
Deserializer: TypeAlias = Callable[[bytes], Any]
Handler: TypeAlias = "grpc.RpcMethodHandler[Any, Any]"
# What an interceptor is handed to find the handler of the call (None: no such method).
Continuation: TypeAlias = "Callable[[grpc.HandlerCallDetails], Handler | None]"

_SERVER_HINTS = ("experimental_non_blocking", "experimental_thread_pool")


def behaviour_of(handler: Handler) -> Behaviour | None:
    """The function grpc runs for `handler`'s kind; None for a malformed handler."""
    if handler.request_streaming:
        return handler.stream_stream if handler.response_streaming else handler.stream_unary
    return handler.unary_stream if handler.response_streaming else handler.unary_unary


def rebuilt(
    handler: Handler,
    behaviour: Behaviour,
    request_deserializer: Deserializer | None,
    *,
    stands_in_for: Behaviour | None = None,
) -> Handler:
    """A handler of `handler`'s kind, with its response serializer, that runs
    `behaviour` on requests parsed by `request_deserializer` (None: the raw bytes).

    A wrapper names the behaviour it `stands_in_for`, whose server hints it takes
    over; a behaviour of its own (a refusal) keeps only the hints it set itself.
    """
    if stands_in_for is not None:
        for hint in _SERVER_HINTS:
            if hasattr(stands_in_for, hint):
                setattr(behaviour, hint, getattr(stands_in_for, hint))
    make: Callable[..., Handler]
    if handler.request_streaming:
        make = (
            grpc.stream_stream_rpc_method_handler
            if handler.response_streaming
            else grpc.stream_unary_rpc_method_handler
        )
    else:
        make = (
            grpc.unary_stream_rpc_method_handler
            if handler.response_streaming
            else grpc.unary_unary_rpc_method_handler
        )
    return make(behaviour, request_deserializer, handler.response_serializer)
