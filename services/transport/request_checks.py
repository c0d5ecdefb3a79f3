"""A request message's bytes checked before any servicer sees them: over the server's
limit (RESOURCE_EXHAUSTED, naming the limit) or not a valid message (INVALID_ARGUMENT,
naming the parser's problem). One place for both servers: the threaded server's
interceptors (limits.py checks the size, decoding.py the parse) and the aio server's
calls (aio_calls.py, both at once).

A deserializer must not raise: grpc would answer INTERNAL before any of our code saw
the call. So a refused message is handed over as a `Refused`, and the handler refuses
it: a single request with its status; a streamed one raised where the servicer reads
it, so that the servicer's error mapping answers for it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc

from services.domain.errors import InvalidInput, Overloaded
from services.transport.handlers import Deserializer
from services.transport.status import status_for


class RequestTooLarge(Overloaded):
    """A request message over the server's limit (an Overloaded, so that servicers'
    error mapping answers RESOURCE_EXHAUSTED when it surfaces inside a stream)."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"request message is {size} bytes, over this server's limit of {limit}")


class Refused:
    """Stands in for a request message that is over the limit or did not parse."""

    __slots__ = ("error",)

    def __init__(self, error: RequestTooLarge | InvalidInput) -> None:
        self.error = error

    def status(self) -> tuple[grpc.StatusCode, str]:
        """The code and details that refuse the call."""
        return status_for(self.error), str(self.error)


def sized(data: bytes, limit: int) -> Refused | None:
    """A Refused for `data` over `limit` bytes, else None."""
    return Refused(RequestTooLarge(len(data), limit)) if len(data) > limit else None


def parsed(parse: Deserializer, data: bytes) -> Any:
    """The message `data` holds, or a Refused naming why it does not parse."""
    try:
        return parse(data)
    except Exception as exc:  # whatever the parser raises, the bytes are at fault
        return Refused(InvalidInput("request", f"not a valid request message ({exc})"))


def checking(parse: Deserializer, limit: int) -> Deserializer:
    """A deserializer that checks the size, then parses."""

    def deserialize(data: bytes) -> Any:
        return sized(data, limit) or parsed(parse, data)

    return deserialize


def messages(requests: Iterator[Any]) -> Iterator[Any]:
    """A request stream whose refused messages are raised where the servicer reads them."""
    for request in requests:
        if type(request) is Refused:
            raise request.error
        yield request
