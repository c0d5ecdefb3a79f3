"""TLS for every server and for the matcher's client: settings, the checks of their
files, and the grpc credentials made from them.

TLS (optionally mutual) protects the connection: who the server is, and with a
client CA, which clients may connect at all. Credentials are read once at startup; a
rotated certificate takes effect on restart. Which methods need a token is another
layer (transport/auth.py).
"""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import grpc


@dataclass(frozen=True, slots=True)
class TLSSettings:
    """A server's TLS: its certificate chain and key, and with `ca_file`, mutual TLS
    (every client must present a certificate signed by that CA).

    Refuses a half-given pair, so that no server serves plaintext by an oversight;
    `server_tls` also checks that the files can be used.
    """

    cert_file: Path | None = None
    key_file: Path | None = None
    ca_file: Path | None = None

    def __post_init__(self) -> None:
        if self.cert_file is not None and self.key_file is None:
            raise ValueError(
                f"TLS certificate {self.cert_file} given without its private key (--tls-key)"
            )
        if self.key_file is not None and self.cert_file is None:
            raise ValueError(
                f"TLS private key {self.key_file} given without its certificate (--tls-cert)"
            )
        if self.ca_file is not None and self.cert_file is None:
            raise ValueError(
                f"client CA {self.ca_file} (mutual TLS) needs the server's own "
                "certificate and key too (--tls-cert, --tls-key)"
            )

    @property
    def enabled(self) -> bool:
        return self.cert_file is not None

    @property
    def mutual(self) -> bool:
        return self.ca_file is not None


@dataclass(frozen=True, slots=True)
class ClientTLSSettings:
    """A client's TLS: the CA that signed the server's certificate (None: the system's
    roots) and, for a server that requires mutual TLS, our own certificate and key.

    Naming any file turns TLS on: a client configured with a CA must never quietly
    fall back to plaintext because a switch was forgotten. `client_tls` also checks
    that the files can be used.
    """

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    enabled: bool = False

    def __post_init__(self) -> None:
        if (self.cert_file is None) != (self.key_file is None):
            given = self.cert_file or self.key_file
            missing = "private key" if self.key_file is None else "certificate"
            raise ValueError(f"client certificate and key go together: {given} has no {missing}")
        if not self.enabled and (self.ca_file or self.cert_file):
            object.__setattr__(self, "enabled", True)


def server_tls(
    cert_file: Path | None = None, key_file: Path | None = None, ca_file: Path | None = None
) -> TLSSettings:
    """A server's TLS settings, once its files are known to be usable. Raises
    ValueError naming the file, at startup, where grpc would only fail the bind or
    every handshake with a message about neither."""
    tls = TLSSettings(cert_file, key_file, ca_file)
    if tls.cert_file is not None and tls.key_file is not None:
        _check_key_pair(tls.cert_file, tls.key_file, "TLS")
    if tls.ca_file is not None:
        _check_ca(tls.ca_file, "client CA")
    return tls


def client_tls(
    ca_file: Path | None = None,
    cert_file: Path | None = None,
    key_file: Path | None = None,
    enabled: bool = False,
) -> ClientTLSSettings:
    """A client's TLS settings, once its files are known to be usable (ValueError
    naming the file otherwise)."""
    tls = ClientTLSSettings(ca_file, cert_file, key_file, enabled)
    if tls.cert_file is not None and tls.key_file is not None:
        _check_key_pair(tls.cert_file, tls.key_file, "client")
    if tls.ca_file is not None:
        _check_ca(tls.ca_file, "server CA")
    return tls


def server_credentials(tls: TLSSettings) -> grpc.ServerCredentials | None:
    """What `start_server(..., credentials=)` takes; None serves plaintext."""
    if tls.cert_file is None or tls.key_file is None:
        return None
    # Checked again here, for settings that did not come through `server_tls`.
    _check_key_pair(tls.cert_file, tls.key_file, "TLS")
    key = _read(tls.key_file, "TLS private key")
    cert = _read(tls.cert_file, "TLS certificate")
    ca = None if tls.ca_file is None else _read(tls.ca_file, "client CA")
    return grpc.ssl_server_credentials(
        [(key, cert)], root_certificates=ca, require_client_auth=ca is not None
    )


def channel_credentials(tls: ClientTLSSettings) -> grpc.ChannelCredentials | None:
    if not tls.enabled:
        return None
    return grpc.ssl_channel_credentials(
        root_certificates=None if tls.ca_file is None else _read(tls.ca_file, "server CA"),
        private_key=None if tls.key_file is None else _read(tls.key_file, "client private key"),
        certificate_chain=(
            None if tls.cert_file is None else _read(tls.cert_file, "client certificate")
        ),
    )


def open_channel(
    target: str, tls: ClientTLSSettings, options: Sequence[tuple[str, Any]] = ()
) -> grpc.Channel:
    """A secure channel when `tls.enabled`, else a plaintext one.

    The server's certificate must name the host of `target` (a DNS or IP SAN); when
    it cannot, pass ("grpc.ssl_target_name_override", "<name in the cert>").
    """
    credentials = channel_credentials(tls)
    if credentials is None:
        return grpc.insecure_channel(target, options=list(options))
    return grpc.secure_channel(target, credentials, options=list(options))


# --- checks of the files --------------------------------------------------------------


class _EncryptedKey(Exception):
    pass


def _no_password() -> NoReturn:
    # Without a callback OpenSSL would prompt on the terminal of a server process.
    raise _EncryptedKey


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read {what} {path}: {exc.strerror or exc}") from None


def _check_key_pair(cert_file: Path, key_file: Path, what: str) -> None:
    _read(cert_file, f"{what} certificate")
    _read(key_file, f"{what} private key")
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_cert_chain(
            cert_file, key_file, password=_no_password
        )
    except _EncryptedKey:
        raise ValueError(
            f"{what} private key {key_file} is encrypted; gRPC needs an unencrypted key"
        ) from None
    except ssl.SSLError as exc:
        raise ValueError(
            f"{what} certificate {cert_file} and private key {key_file} cannot be used "
            f"together: {exc.reason or exc}"
        ) from None


def _check_ca(ca_file: Path, what: str) -> None:
    _read(ca_file, what)
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cafile=ca_file)
    except ssl.SSLError as exc:
        raise ValueError(
            f"{what} {ca_file} holds no usable PEM certificate: {exc.reason or exc}"
        ) from None
