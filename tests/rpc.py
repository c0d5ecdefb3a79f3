"""What tests send and read on a call: a bearer token's metadata, a refusal's code."""

from __future__ import annotations

from collections.abc import Callable

import grpc
import pytest


def bearer(token: str) -> tuple[tuple[str, str], ...]:
    """Spelled out here rather than taken from the code under test."""
    return (("authorization", f"Bearer {token}"),)


def code_of(call: Callable[[], object]) -> grpc.StatusCode:
    """The status code `call` fails with (a test failure if it does not fail)."""
    with pytest.raises(grpc.RpcError) as info:
        call()
    code: grpc.StatusCode = info.value.code()
    return code
