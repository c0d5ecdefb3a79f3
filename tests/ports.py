"""A loopback port for a test to bind: free a moment ago, so nothing listens on it."""

from __future__ import annotations

import random
import socket
from pathlib import Path

# Ports the kernel hands out on its own are the ephemeral range (bind to port 0, and the
# source port of every outgoing connection). A port from there can be taken by another
# test's connection before the server it was meant for binds it, and a client retrying
# a connection to it can even connect to itself. So the port is drawn from below it.
_BELOW_EPHEMERAL = 10_000


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default, and below the IANA range other systems use


def free_port() -> int:
    low = _ephemeral_low()
    for _ in range(100):
        port = random.randrange(max(1024, low - _BELOW_EPHEMERAL), low)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue  # in use: draw again
        return port
    with socket.socket() as probe:  # everything drawn was in use: let the kernel pick
        probe.bind(("127.0.0.1", 0))
        picked: int = probe.getsockname()[1]
    return picked
