"""The one place where domain errors become gRPC status codes."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import TypeVar

import grpc

from services.domain.errors import (
    DependencyTimeout,
    DependencyUnavailable,
    DomainError,
    InvalidInput,
    ProfileAlreadyExists,
    ProfileNotFound,
    StoredProfileCorrupt,
)

log = logging.getLogger(__name__)

Req = TypeVar("Req")
Resp = TypeVar("Resp")
Self = TypeVar("Self")


# grpc reports "no deadline" as an enormous remaining time; past this it means none.
_NO_DEADLINE = 365 * 24 * 3600.0


def time_left(context: grpc.ServicerContext) -> float | None:
    """Seconds left of the caller's deadline, or None when the caller set none."""
    remaining = context.time_remaining()
    return None if remaining is None or remaining > _NO_DEADLINE else remaining


def status_for(error: DomainError) -> grpc.StatusCode:
    match error:
        case InvalidInput():
            return grpc.StatusCode.INVALID_ARGUMENT
        case ProfileNotFound():
            return grpc.StatusCode.NOT_FOUND
        case ProfileAlreadyExists():
            return grpc.StatusCode.ALREADY_EXISTS
        case StoredProfileCorrupt():
            return grpc.StatusCode.DATA_LOSS
        case DependencyTimeout():
            return grpc.StatusCode.DEADLINE_EXCEEDED
        case DependencyUnavailable():
            return grpc.StatusCode.UNAVAILABLE
        case _:
            return grpc.StatusCode.INTERNAL


def mapped_errors(
    method: Callable[[Self, Req, grpc.ServicerContext], Resp],
) -> Callable[[Self, Req, grpc.ServicerContext], Resp]:
    """Wraps a unary servicer method: domain errors become their status, anything
    unexpected becomes INTERNAL with a logged traceback (never UNKNOWN).

    Servicers raise domain errors and never call `context.abort` themselves.
    """

    @functools.wraps(method)
    def wrapper(self: Self, request: Req, context: grpc.ServicerContext) -> Resp:
        try:
            return method(self, request, context)
        except DomainError as exc:
            code, message = status_for(exc), str(exc)
        except Exception as exc:
            log.exception("bug in %s", method.__qualname__)
            code, message = grpc.StatusCode.INTERNAL, f"internal error: {type(exc).__name__}"
        context.abort(code, message)

    return wrapper
