"""/metrics served from the caller's own loop, one request at a time, on no thread.

The parent of several worker processes serves their merged metrics this way: it runs
no thread at all, so that forking a worker again later is as safe as the first time
(a fork copies only the forking thread, and a lock another thread held would stay
locked in the child forever). While it serves a request it supervises nothing, so
each request has one deadline for all of it, from its connection to its last byte:
a client that sends nothing, or a byte at a time, is cut off when it passes.
"""

from __future__ import annotations

import io
import logging
import socket
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app

from services.observability.http import MetricsSettings, metrics_url
from services.transport.addresses import bare_host, cannot_bind

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer, WriteableBuffer

log = logging.getLogger(__name__)

# The longest one request may hold the caller's loop, all of it.
REQUEST_DEADLINE = 2.0


class _DeadlineSocket(io.RawIOBase):
    """The connection, each read and write given what is left of the deadline as its
    timeout; TimeoutError once nothing is left."""

    def __init__(self, sock: socket.socket, deadline: float, clock: Callable[[], float]) -> None:
        super().__init__()
        self._sock = sock
        self._deadline = deadline
        self._clock = clock

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        self._sock.settimeout(self._left())
        return self._sock.recv_into(buffer)

    def write(self, data: ReadableBuffer) -> int:
        self._sock.settimeout(self._left())
        return self._sock.send(data)

    def _left(self) -> float:
        left = self._deadline - self._clock()
        if left <= 0:
            raise TimeoutError("the request was not over within its deadline")
        return left


class _Server(WSGIServer):
    # handle_request does not wait for a connection that the loop saw ready but that
    # is gone by then.
    timeout = 0
    clock: Callable[[], float]  # set once made: each request's deadline runs on it

    def handle_error(self, request: Any, client_address: Any) -> None:
        """One line, not the default traceback on stderr."""
        log.warning("metrics request from %s not answered: %s", client_address, sys.exc_info()[1])


def _server_class(family: socket.AddressFamily) -> type[_Server]:
    class MetricsServer(_Server):
        address_family = family

    return MetricsServer


class _Handler(WSGIRequestHandler):
    server: _Server

    def setup(self) -> None:
        self.connection = self.request
        raw = _DeadlineSocket(
            self.connection, self.server.clock() + REQUEST_DEADLINE, self.server.clock
        )
        self.rfile = io.BufferedReader(raw)
        self.wfile = io.BufferedWriter(raw)

    def log_message(self, format: str, *args: object) -> None:
        """Scrapes are not worth a line each."""


class InlineMetricsEndpoint:
    """Bound at creation (OSError naming the address when it cannot be); `handle` once
    `fileno` is readable. `clock` measures each request's deadline."""

    def __init__(
        self,
        settings: MetricsSettings,
        registry: CollectorRegistry,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        host = bare_host(settings.host)
        try:
            family = socket.getaddrinfo(host, settings.port, type=socket.SOCK_STREAM)[0][0]
            self._httpd = make_server(
                host,
                settings.port,
                make_wsgi_app(registry),
                server_class=_server_class(family),
                handler_class=_Handler,
            )
        except OSError as exc:
            raise cannot_bind("metrics endpoint", settings.host, settings.port, exc) from None
        self._httpd.clock = clock
        self.host = host
        self.port: int = self._httpd.server_port
        log.info("metrics of every worker at %s", metrics_url(host, self.port))

    def fileno(self) -> int:
        return self._httpd.fileno()

    def handle(self) -> None:
        self._httpd.handle_request()

    def close(self) -> None:
        self._httpd.server_close()
