"""The one place where domain errors become gRPC status codes."""

from __future__ import annotations

import functools
import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import grpc
from google.protobuf.message import Message
from google.rpc.status_pb2 import Status

from services.domain.errors import (
    CampaignNotFound,
    DependencyTimeout,
    DependencyUnavailable,
    DomainError,
    InvalidInput,
    Overloaded,
    PreconditionFailed,
    ProfileAlreadyExists,
    ProfileNotFound,
    StoredProfileCorrupt,
    StreamIdle,
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
        case ProfileNotFound() | CampaignNotFound():
            return grpc.StatusCode.NOT_FOUND
        case ProfileAlreadyExists():
            return grpc.StatusCode.ALREADY_EXISTS
        case StoredProfileCorrupt():
            return grpc.StatusCode.DATA_LOSS
        case PreconditionFailed():
            return grpc.StatusCode.FAILED_PRECONDITION
        case Overloaded():
            return grpc.StatusCode.RESOURCE_EXHAUSTED
        case StreamIdle():
            return grpc.StatusCode.DEADLINE_EXCEEDED
        case DependencyTimeout():
            return grpc.StatusCode.DEADLINE_EXCEEDED
        case DependencyUnavailable():
            return grpc.StatusCode.UNAVAILABLE
        case _:
            return grpc.StatusCode.INTERNAL


# Clients refuse trailing metadata past a limit of a few kilobytes (gRPC's default),
# and refusing it costs the caller the status as well: details stay within this.
DETAILS_BUDGET_BYTES = 4096


def attach_details(context: grpc.ServicerContext, error: DomainError, details: Message) -> None:
    """Sends `details` with the status `mapped_errors` gives `error`, as a
    google.rpc.Status in the standard `grpc-status-details-bin` trailer (grpcurl prints
    it; gRPC libraries read it, e.g. grpc_status.rpc_status.from_call). The caller keeps
    `details` within DETAILS_BUDGET_BYTES, then raises `error`."""
    status = Status(code=code_number(error), message=client_message(error))
    status.details.add().Pack(details)
    context.set_trailing_metadata((("grpc-status-details-bin", status.SerializeToString()),))


# Core ends a call on its own clock, Python reads the wall clock: a call cancelled
# this close to its deadline was ended by the deadline.
DEADLINE_SLACK = 0.05


def ended_code(time_remaining: float | None) -> grpc.StatusCode:
    """The code a client saw for a call that ended without a status from the server
    (it left, or its deadline passed), from the call's time remaining then."""
    if time_remaining is not None and time_remaining <= DEADLINE_SLACK:
        return grpc.StatusCode.DEADLINE_EXCEEDED
    return grpc.StatusCode.CANCELLED


def code_number(error: DomainError) -> int:
    """The number of the code `error` maps to, as google.rpc.Status and per-player
    results carry it."""
    number: int = status_for(error).value[0]
    return number


def client_message(error: DomainError) -> str:
    """What a client is told of `error`. A failed dependency's detail (a file path, a
    host and port, the driver's words) is for the operator; the client gets its
    public message, and the detail is logged here, once per call."""
    if isinstance(error, DependencyUnavailable):
        dependency_log.record(str(error))
        return error.public
    return str(error)


class RepeatLimitedLog:
    """Logs each distinct dependency failure at most once per `interval` seconds, with
    how many were left out since: an outage fails every call, and one line per call
    would bury everything else in the log."""

    def __init__(self, interval: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        # detail -> (when last logged, how many since)
        self._seen: dict[str, tuple[float, int]] = {}

    def record(self, detail: str) -> None:
        now = self._clock()
        with self._lock:
            last, left_out = self._seen.get(detail, (-math.inf, 0))
            if now - last < self._interval:
                self._seen[detail] = (last, left_out + 1)
                return
            if len(self._seen) >= _MAX_DISTINCT:
                self._seen.clear()  # bounded memory; at worst a line logged early
            self._seen[detail] = (now, 0)
        if left_out:
            log.warning("%s (and %d more times since it was last logged)", detail, left_out)
        else:
            log.warning("%s", detail)


_MAX_DISTINCT = 1000
# Seconds before the same dependency failure is logged again.
LOG_REPEATS_AFTER = 10.0
dependency_log = RepeatLimitedLog(LOG_REPEATS_AFTER)


def _status(exc: Exception, method: str) -> tuple[grpc.StatusCode, str]:
    if isinstance(exc, DomainError):
        return status_for(exc), client_message(exc)
    log.exception("bug in %s", method)
    return grpc.StatusCode.INTERNAL, f"internal error: {type(exc).__name__}"


def mapped_errors(
    method: Callable[[Self, Req, grpc.ServicerContext], Resp],
) -> Callable[[Self, Req, grpc.ServicerContext], Resp]:
    """Wraps a unary (or client-streaming) servicer method: domain errors become their
    status, anything unexpected becomes INTERNAL with a logged traceback (never UNKNOWN).

    Servicers raise domain errors and never call `context.abort` themselves.
    """

    @functools.wraps(method)
    def wrapper(self: Self, request: Req, context: grpc.ServicerContext) -> Resp:
        try:
            return method(self, request, context)
        except Exception as exc:
            code, message = _status(exc, method.__qualname__)
        context.abort(code, message)

    return wrapper


def mapped_stream_errors(
    method: Callable[[Self, Req, grpc.ServicerContext], Iterator[Resp]],
) -> Callable[[Self, Req, grpc.ServicerContext], Iterator[Resp]]:
    """`mapped_errors` for server-streaming methods."""

    # A generator raises while it is iterated, after the call has returned, so the
    # try has to sit around the iteration.
    @functools.wraps(method)
    def wrapper(self: Self, request: Req, context: grpc.ServicerContext) -> Iterator[Resp]:
        try:
            yield from method(self, request, context)
            return
        except Exception as exc:
            code, message = _status(exc, method.__qualname__)
        context.abort(code, message)

    return wrapper
