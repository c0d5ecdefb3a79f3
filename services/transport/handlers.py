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
from typing import Any, Generic, TypeAlias, TypeVar

import grpc

Behaviour: TypeAlias = Callable[..., Any]
Deserializer: TypeAlias = Callable[[bytes], Any]
Handler: TypeAlias = "grpc.RpcMethodHandler[Any, Any]"
# What an interceptor is handed to find the handler of the call (None: no such method).
Continuation: TypeAlias = "Callable[[grpc.HandlerCallDetails], Handler | None]"

_SERVER_HINTS = ("experimental_non_blocking", "experimental_thread_pool")
T = TypeVar("T")


def behaviour_of(handler: Handler) -> Behaviour | None:
    """The function grpc runs for `handler`'s kind; None for a malformed handler."""
    if handler.request_streaming:
        return handler.stream_stream if handler.response_streaming else handler.stream_unary
    return handler.unary_stream if handler.response_streaming else handler.unary_unary


def rpc_type(handler: Handler) -> str:
    """The handler's kind as metrics label it (go-grpc-prometheus's grpc_type)."""
    if handler.request_streaming:
        return "bidi_stream" if handler.response_streaming else "client_stream"
    return "server_stream" if handler.response_streaming else "unary"


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
        take_hints(behaviour, server_hints(stands_in_for))
    return handler_maker(handler)(behaviour, request_deserializer, handler.response_serializer)


def server_hints(behaviour: Behaviour) -> dict[str, Any]:
    """The hints grpc reads off `behaviour` (see the module's docstring)."""
    return {hint: getattr(behaviour, hint) for hint in _SERVER_HINTS if hasattr(behaviour, hint)}


def take_hints(behaviour: Behaviour, hints: dict[str, Any]) -> None:
    for hint, value in hints.items():
        setattr(behaviour, hint, value)


def handler_maker(handler: Handler) -> Callable[..., Handler]:
    """grpc's constructor for handlers of `handler`'s kind: (behaviour, request
    deserializer, response serializer) -> handler."""
    return _MAKERS[handler.request_streaming, handler.response_streaming]


_MAKERS: dict[tuple[bool, bool], Callable[..., Handler]] = {
    (False, False): grpc.unary_unary_rpc_method_handler,
    (False, True): grpc.unary_stream_rpc_method_handler,
    (True, False): grpc.stream_unary_rpc_method_handler,
    (True, True): grpc.stream_stream_rpc_method_handler,
}


class PerMethod(Generic[T]):
    """What an interceptor makes of a method's handler, made once per method.

    Keyed by the method's path, so it holds one entry per method the server has
    (unknown methods have no handler and never get here), and made again whenever
    that method's handler is not the one it was made from: behind an interceptor
    that builds a handler per call, it makes one per call, as if there were no cache.
    """

    def __init__(self, make: Callable[[Handler], T]) -> None:
        self._make = make
        self._made: dict[str, tuple[Handler, T]] = {}

    def get(self, method: str, handler: Handler) -> T:
        entry = self._made.get(method)
        if entry is not None and entry[0] is handler:
            return entry[1]
        made = self._make(handler)
        # A race here makes the same thing twice, which is harmless.
        self._made[method] = (handler, made)
        return made
