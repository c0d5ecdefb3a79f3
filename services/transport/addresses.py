"""Hosts as our flags spell them ("[::]" bracketed, as gRPC's "host:port" wants),
made into what sockets and URLs want, and the one way a failed bind is reported."""

from __future__ import annotations


def bare_host(host: str) -> str:
    """ "[::]" -> "::": what socket calls want."""
    return host.removeprefix("[").removesuffix("]")


def url_host(host: str) -> str:
    """An IPv6 address bracketed, as in a URL; any other host as it is."""
    bare = bare_host(host)
    return f"[{bare}]" if ":" in bare else bare


def cannot_bind(what: str, host: str, port: int, exc: OSError) -> OSError:
    """The error for a bind of `what` ("" for the service's own port) that failed,
    naming the address as the flags gave it and the system's reason."""
    where = f"{what} " if what else ""
    return OSError(f"cannot bind {where}{host}:{port}: {exc.strerror or exc}")
