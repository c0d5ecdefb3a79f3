"""Why a TLS connection fails, in the TLS layer's words.

gRPC Python reports a failed handshake only as UNAVAILABLE "Socket closed" (or
"failed to connect to all addresses"): a certificate signed by the wrong CA, an
expired one, a server that refuses our client certificate all look alike. The
probe repeats the handshake with Python's ssl module, with the same CA, certificate
and key, and returns what OpenSSL said ("certificate verify failed: unable to get
local issuer certificate", "tlsv1 alert unknown ca", ...).
"""

from __future__ import annotations

import logging
import socket
import ssl
import threading
from collections.abc import Callable

from services.transport.tls import ClientTLSSettings

log = logging.getLogger(__name__)


def split_target(target: str) -> tuple[str, int] | None:
    """(host, port) of a "host:port", "[v6]:port" or "dns:///host:port" target; None
    for anything else (unix sockets, name resolvers the probe cannot follow)."""
    if target.startswith("dns:///"):
        target = target.removeprefix("dns:///")
    host, sep, port = target.rpartition(":")
    if not sep or not host or not port.isdigit() or "/" in host:
        return None
    return host.removeprefix("[").removesuffix("]"), int(port)


def tls_context(tls: ClientTLSSettings) -> ssl.SSLContext:
    """A client context that checks what grpc's checks: the server's certificate
    against the CA (or the system's roots) and its name, offering ours if we have one."""
    context = ssl.create_default_context(cafile=None if tls.ca_file is None else str(tls.ca_file))
    if tls.cert_file is not None and tls.key_file is not None:
        context.load_cert_chain(str(tls.cert_file), str(tls.key_file))
    context.set_alpn_protocols(["h2"])
    return context


def handshake_problem(target: str, tls: ClientTLSSettings, *, timeout: float = 2.0) -> str | None:
    """What the TLS layer says is wrong with a connection to `target`; None when the
    handshake succeeds, or when the failure is not TLS's (nothing listening, no route:
    grpc already says that much)."""
    address = split_target(target)
    if address is None:
        return None
    host, port = address
    try:
        context = tls_context(tls)
    except (OSError, ssl.SSLError) as exc:
        return f"cannot load the TLS files: {exc}"
    try:
        raw = socket.create_connection((host, port), timeout=timeout)
    except OSError:
        return None
    try:
        with context.wrap_socket(raw, server_hostname=host) as conn:
            # With TLS 1.3 the server checks our certificate after our side of the
            # handshake is done, and grpc's server then just closes the connection
            # (no alert says why). A server that accepted us sends its HTTP/2
            # settings instead.
            if not conn.recv(1):
                return _closed_after_handshake(tls)
    except ssl.SSLError as exc:
        return _reason(exc)
    except TimeoutError:
        return None  # nothing refused: not a TLS problem
    except OSError as exc:
        return f"connection closed during the TLS handshake ({exc})"
    finally:
        raw.close()
    return None


def _closed_after_handshake(tls: ClientTLSSettings) -> str:
    if tls.cert_file is None:
        return (
            "the server closed the connection after the TLS handshake: it requires a"
            " client certificate (mutual TLS) and none is configured"
        )
    return (
        "the server closed the connection after the TLS handshake: it does not accept"
        f" our client certificate {tls.cert_file} (signed by a CA it does not trust?)"
    )


def _reason(exc: ssl.SSLError) -> str:
    verify = getattr(exc, "verify_message", None)
    if isinstance(exc, ssl.SSLCertVerificationError) and verify:
        return f"certificate verify failed: {verify}"
    return exc.reason.replace("_", " ").lower() if exc.reason else str(exc)


class HandshakeDiagnosis:
    """Run on each UNAVAILABLE from a TLS channel: probes in the background (one probe
    at a time) and logs the TLS layer's cause once per change of cause."""

    def __init__(
        self,
        target: str,
        tls: ClientTLSSettings,
        *,
        what: str,
        probe: Callable[[str, ClientTLSSettings], str | None] = handshake_problem,
    ) -> None:
        self._target = target
        self._tls = tls
        self._what = what
        self._probe = probe
        self._running = threading.Lock()
        self._last: str | None = None

    def __call__(self) -> None:
        """Starts a probe unless one is running."""
        if not self._running.acquire(blocking=False):
            return
        threading.Thread(target=self._run, name="tls-probe", daemon=True).start()

    def run(self) -> None:
        """One probe, in the calling thread (for tests and tools)."""
        with self._running:
            self._check()

    def _run(self) -> None:
        try:
            self._check()
        except Exception:
            log.exception("TLS probe of %s failed", self._target)
        finally:
            self._running.release()

    def _check(self) -> None:
        cause = self._probe(self._target, self._tls)
        if cause == self._last:
            return
        self._last = cause
        if cause is not None:
            log.error("TLS handshake with %s at %s fails: %s", self._what, self._target, cause)
        else:
            log.info("TLS handshake with %s at %s succeeds again", self._what, self._target)
