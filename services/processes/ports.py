"""The one port every worker process binds, with SO_REUSEPORT.

Independent binds of port 0 would each get a port of their own, so for port 0 the
parent reserves one: a socket bound with SO_REUSEPORT that it holds, never listening,
while the workers run (as grpc's examples/python/multiprocessing does), so no other
program is handed that port meanwhile. A given port is checked first with an ordinary
bind: SO_REUSEPORT would otherwise let the workers quietly share a port that another
server of the same user already listens on.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

from services.transport.addresses import bare_host, cannot_bind


@contextmanager
def shared_port(host: str, port: int) -> Iterator[tuple[int, list[int]]]:
    """(the port the workers bind, the descriptors the workers must close). OSError,
    naming the address, when it cannot be bound."""
    family, address = _resolve(host, port)
    if port != 0:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            # SO_REUSEADDR: a port whose last connections linger in TIME_WAIT is free.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            _bind(probe, address, host, port)
        yield port, []
        return
    reserved = socket.socket(family, socket.SOCK_STREAM)
    try:
        reserved.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        _bind(reserved, address, host, port)
        yield reserved.getsockname()[1], [reserved.fileno()]
    finally:
        reserved.close()


def _resolve(host: str, port: int) -> tuple[socket.AddressFamily, tuple[str, int]]:
    """The family and address gRPC binds for "host:port" ("[::]" bracketed as in our flags)."""
    bare = bare_host(host)
    try:
        infos = socket.getaddrinfo(
            bare or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as exc:
        raise cannot_bind("", host, port, exc) from None
    family, _, _, _, address = infos[0]
    return family, (str(address[0]), int(address[1]))


def _bind(sock: socket.socket, address: tuple[str, int], host: str, port: int) -> None:
    try:
        sock.bind(address)
    except OSError as exc:
        raise cannot_bind("", host, port, exc) from None
