"""The supervisor's pieces that need no process: the shared port."""

from __future__ import annotations

import socket

import pytest

from services.processes.ports import shared_port


def test_port_0_is_reserved_and_still_bindable_with_so_reuseport() -> None:
    with shared_port("127.0.0.1", 0) as (port, inherited):
        assert port > 0
        assert len(inherited) == 1
        with socket.socket() as worker:
            worker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            worker.bind(("127.0.0.1", port))  # as each worker's server does
        with socket.socket() as stranger, pytest.raises(OSError, match="in use"):
            stranger.bind(("127.0.0.1", port))  # no one else is handed it


def test_a_given_port_that_a_server_listens_on_is_refused() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with (
            pytest.raises(OSError, match=rf"cannot bind 127\.0\.0\.1:{port}"),
            shared_port("127.0.0.1", port),
        ):
            pass


def test_an_unknown_host_is_refused_naming_it() -> None:
    with (
        pytest.raises(OSError, match=r"cannot bind no-such-host\.invalid:5"),
        shared_port("no-such-host.invalid", 5),
    ):
        pass
