"""transport/handlers.py: a rebuilt handler is of its original's kind, keeps its
response serializer, and takes over grpc's hints only from what it stands in for."""

from __future__ import annotations

from concurrent import futures
from typing import Any

import grpc
import pytest

from services.transport.handlers import Handler, behaviour_of, rebuilt

KINDS = {
    "unary_unary": grpc.unary_unary_rpc_method_handler,
    "unary_stream": grpc.unary_stream_rpc_method_handler,
    "stream_unary": grpc.stream_unary_rpc_method_handler,
    "stream_stream": grpc.stream_stream_rpc_method_handler,
}


def _original(request: Any, context: Any) -> Any:
    return request


def _serialize(response: Any) -> bytes:
    return b""


def _parse(data: bytes) -> Any:
    return data


@pytest.mark.parametrize("kind", KINDS)
def test_behaviour_of_is_the_one_for_the_handlers_kind(kind: str) -> None:
    handler: Handler = KINDS[kind](_original, None, _serialize)
    assert behaviour_of(handler) is _original
    assert getattr(handler, kind) is _original


@pytest.mark.parametrize("kind", KINDS)
def test_rebuilt_keeps_the_kind_and_response_serializer(kind: str) -> None:
    handler: Handler = KINDS[kind](_original, None, _serialize)

    def wrapper(request: Any, context: Any) -> Any:
        return request

    new = rebuilt(handler, wrapper, _parse)
    assert (new.request_streaming, new.response_streaming) == (
        handler.request_streaming,
        handler.response_streaming,
    )
    assert getattr(new, kind) is wrapper
    assert new.request_deserializer is _parse
    assert new.response_serializer is _serialize


def test_a_wrapper_takes_over_the_hints_of_what_it_stands_in_for() -> None:
    pool = futures.ThreadPoolExecutor(max_workers=1)

    def original(request: Any, context: Any, send: Any) -> None:
        send(None)

    original.experimental_non_blocking = True  # type: ignore[attr-defined]
    original.experimental_thread_pool = pool  # type: ignore[attr-defined]

    def wrapper(request: Any, context: Any, send: Any) -> None:
        original(request, context, send)

    handler: Handler = grpc.unary_stream_rpc_method_handler(original)
    new = rebuilt(handler, wrapper, None, stands_in_for=original)
    assert new.unary_stream.experimental_non_blocking is True  # type: ignore[union-attr]
    assert new.unary_stream.experimental_thread_pool is pool  # type: ignore[union-attr]
    pool.shutdown()


def test_a_behaviour_of_its_own_keeps_only_its_own_hints() -> None:
    def original(request: Any, context: Any, send: Any) -> None:
        send(None)

    original.experimental_non_blocking = True  # type: ignore[attr-defined]

    def refuse(request: Any, context: Any) -> None:
        context.abort(grpc.StatusCode.UNAUTHENTICATED, "no")

    new = rebuilt(grpc.unary_stream_rpc_method_handler(original), refuse, None)
    assert not hasattr(new.unary_stream, "experimental_non_blocking")
