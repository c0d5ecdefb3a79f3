"""TLS for every server and for the matcher's client, and bearer tokens for ProfileService.

Two independent layers:
- TLS (optionally mutual) protects the connection: who the server is, and with a
  client CA, which clients may connect at all. Credentials are read once at startup;
  a rotated certificate takes effect on restart.
- A shared bearer token protects methods: every one but health and reflection, or
  with public reads only the writing RPCs of ProfileService. Without a token those
  writes are refused unless the operator opts out. A token sent over a plaintext
  connection can be read by anyone on the path, so configure TLS with it anywhere
  but on a trusted network.
"""

from __future__ import annotations

import argparse
import hmac
import logging
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import grpc
from grpc_health.v1 import health
from grpc_reflection.v1alpha import reflection

from profilematcher.profiles.v1 import profile_service_pb2
from services.config import add_flag, add_switch
from services.transport.call_auth import (
    AUTHORIZATION,
    add_campaigns_client_auth_flags,
    add_token_flags,
    check_token,
    read_token,
)

log = logging.getLogger(__name__)

_TRequest = TypeVar("_TRequest")
_TResponse = TypeVar("_TResponse")

# A shorter shared secret is within reach of guessing over the network.
_MIN_TOKEN_LENGTH = 16


# --- TLS ------------------------------------------------------------------------------


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
    """Fails at startup, naming the files, where grpc would only fail the bind or
    every handshake with a message about neither."""
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


@dataclass(frozen=True, slots=True)
class TLSSettings:
    """A server's TLS: its certificate chain and key, and with `ca_file`, mutual TLS
    (every client must present a certificate signed by that CA)."""

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
        if self.cert_file is not None and self.key_file is not None:
            _check_key_pair(self.cert_file, self.key_file, "TLS")
        if self.ca_file is not None:
            _check_ca(self.ca_file, "client CA")

    @property
    def enabled(self) -> bool:
        return self.cert_file is not None

    @property
    def mutual(self) -> bool:
        return self.ca_file is not None


def server_credentials(tls: TLSSettings) -> grpc.ServerCredentials | None:
    """What `start_server(..., credentials=)` takes; None serves plaintext."""
    if tls.cert_file is None or tls.key_file is None:
        return None
    key = _read(tls.key_file, "TLS private key")
    cert = _read(tls.cert_file, "TLS certificate")
    ca = None if tls.ca_file is None else _read(tls.ca_file, "client CA")
    return grpc.ssl_server_credentials(
        [(key, cert)], root_certificates=ca, require_client_auth=ca is not None
    )


@dataclass(frozen=True, slots=True)
class ClientTLSSettings:
    """A client's TLS: the CA that signed the server's certificate (None: the system's
    roots) and, for a server that requires mutual TLS, our own certificate and key.

    Naming any file turns TLS on: a client configured with a CA must never quietly
    fall back to plaintext because a switch was forgotten.
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
        if self.cert_file is not None and self.key_file is not None:
            _check_key_pair(self.cert_file, self.key_file, "client")
        if self.ca_file is not None:
            _check_ca(self.ca_file, "server CA")
        if not self.enabled and (self.ca_file or self.cert_file):
            object.__setattr__(self, "enabled", True)


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


# --- Bearer tokens ----------------------------------------------------------------------

_PROFILE_SERVICE = profile_service_pb2.DESCRIPTOR.services_by_name["ProfileService"]
# Listed by reads rather than by writes so that a new RPC is protected until someone
# decides it is a read.
_PROFILE_READS = frozenset({"GetProfile"})
PROFILE_WRITE_METHODS = frozenset(
    f"/{_PROFILE_SERVICE.full_name}/{method.name}"
    for method in _PROFILE_SERVICE.methods
    if method.name not in _PROFILE_READS
)
# Probes and load balancers carry no token; reflection only describes the API.
_ALWAYS_OPEN_SERVICES = frozenset(
    {health.SERVICE_NAME, reflection.SERVICE_NAME, "grpc.reflection.v1.ServerReflection"}
)


def write_methods_of_profile_service(method: str) -> bool:
    """Protects CreateProfile, UpdateProfile, DeleteProfile and ImportProfiles."""
    return method in PROFILE_WRITE_METHODS


def all_methods_except_health_and_reflection(method: str) -> bool:
    service = method.lstrip("/").rpartition("/")[0]
    return service not in _ALWAYS_OPEN_SERVICES


class _MethodGate(grpc.ServerInterceptor):
    """Refuses a call to a method that `protected(full_method_name)` selects when
    `_refusal` gives a status and a reason for it.

    The decision is taken before the handler runs, and a refused request is never
    deserialized; client-streaming calls are refused before their first message is
    read. Refusals are logged with method, peer and reason, never with a token.
    """

    def __init__(self, protected: Callable[[str], bool]) -> None:
        self._protected = protected

    def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], grpc.RpcMethodHandler[_TRequest, _TResponse] | None
        ],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[_TRequest, _TResponse] | None:
        handler = continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or not self._protected(method):
            return handler
        refusal = self._refusal(handler_call_details.invocation_metadata)
        if refusal is None:
            return handler
        code, reason = refusal
        return _refusing_handler(handler, method, code, reason)

    def _refusal(
        self, metadata: Sequence[tuple[str, str | bytes]] | None
    ) -> tuple[grpc.StatusCode, str] | None:
        raise NotImplementedError


class BearerTokenInterceptor(_MethodGate):
    """Refuses a call to a method that `protected(full_method_name)` selects unless it
    carries `authorization: Bearer <token>`: UNAUTHENTICATED when the header is
    missing or malformed, PERMISSION_DENIED when the token is wrong.
    """

    def __init__(self, token: str, protected: Callable[[str], bool]) -> None:
        check_token(token)
        if len(token) < _MIN_TOKEN_LENGTH:
            log.warning(
                "the auth token has fewer than %d characters; use a long random one "
                "(e.g. `openssl rand -hex 32`)",
                _MIN_TOKEN_LENGTH,
            )
        super().__init__(protected)
        self._expected = token.encode("ascii")

    def _refusal(
        self, metadata: Sequence[tuple[str, str | bytes]] | None
    ) -> tuple[grpc.StatusCode, str] | None:
        values = [value for key, value in metadata or () if key == AUTHORIZATION]
        if not values:
            return grpc.StatusCode.UNAUTHENTICATED, "missing 'authorization: Bearer <token>'"
        if len(values) > 1:
            return grpc.StatusCode.UNAUTHENTICATED, "more than one authorization header"
        value = values[0]
        if isinstance(value, bytes):
            try:
                value = value.decode("ascii")
            except UnicodeDecodeError:
                value = ""
        scheme, _, credentials = value.strip().partition(" ")
        credentials = credentials.strip()
        # RFC 7235: the scheme name is case-insensitive.
        if scheme.lower() != "bearer" or not credentials:
            return grpc.StatusCode.UNAUTHENTICATED, "authorization is not 'Bearer <token>'"
        # Constant time, so response timing does not reveal how much of a guess was right.
        if not hmac.compare_digest(credentials.encode("utf-8"), self._expected):
            return grpc.StatusCode.PERMISSION_DENIED, "invalid bearer token"
        return None


def _refusing_handler(
    handler: grpc.RpcMethodHandler[Any, Any], method: str, code: grpc.StatusCode, reason: str
) -> grpc.RpcMethodHandler[Any, Any]:
    def refuse(_request: object, context: grpc.ServicerContext) -> NoReturn:
        # Logged here rather than in the interceptor: only the context knows the peer.
        log.warning("refused %s from %s: %s", method, context.peer(), reason)
        context.abort(code, reason)

    # Same shape as the real handler, so grpc drives the call the same way; no
    # deserializer, so an unauthenticated request body is never parsed.
    match handler.request_streaming, handler.response_streaming:
        case False, False:
            return grpc.unary_unary_rpc_method_handler(refuse)
        case True, False:
            return grpc.stream_unary_rpc_method_handler(refuse)
        case False, True:
            return grpc.unary_stream_rpc_method_handler(refuse)
        case _:
            return grpc.stream_stream_rpc_method_handler(refuse)


# Clients read it: it says how to configure the server, never anything secret.
WRITES_CLOSED = (
    "writes need an auth token: start the matcher with --auth-token-file or --auth-token "
    "(env PROFILE_MATCHER_AUTH_TOKEN_FILE, PROFILE_MATCHER_AUTH_TOKEN) and send "
    "'authorization: Bearer <token>'; or, on a trusted network only, with "
    "--allow-unauthenticated-writes (env PROFILE_MATCHER_ALLOW_UNAUTHENTICATED_WRITES=true)"
)


class WritesClosedInterceptor(_MethodGate):
    """With no token configured: refuses ProfileService's writes, UNAUTHENTICATED with
    WRITES_CLOSED, so no server is open to writes by an oversight."""

    def __init__(self) -> None:
        super().__init__(write_methods_of_profile_service)

    def _refusal(
        self, metadata: Sequence[tuple[str, str | bytes]] | None
    ) -> tuple[grpc.StatusCode, str] | None:
        return grpc.StatusCode.UNAUTHENTICATED, WRITES_CLOSED


def auth_interceptors(
    token: str | None, *, public_reads: bool = False, allow_unauthenticated_writes: bool = False
) -> list[grpc.ServerInterceptor]:
    """The matcher's: with a token, every method but health and reflection needs it
    (only ProfileService's writes with `public_reads`). Without one, the writes are
    refused unless `allow_unauthenticated_writes` (ignored when a token is set)."""
    if token:
        protected = (
            write_methods_of_profile_service
            if public_reads
            else all_methods_except_health_and_reflection
        )
        return [BearerTokenInterceptor(token, protected)]
    if allow_unauthenticated_writes:
        log.warning(
            "no auth token and writes allowed without one: anyone who reaches this server "
            "can create, change and delete profiles"
        )
        return []
    return [WritesClosedInterceptor()]


def service_token_interceptors(token: str | None) -> list[grpc.ServerInterceptor]:
    """For a server with no writes (the campaign service): with a token, every method
    but health and reflection needs it; without one, none."""
    if not token:
        return []
    return [BearerTokenInterceptor(token, all_methods_except_health_and_reflection)]


# --- Flags ------------------------------------------------------------------------------


def _optional_path(raw: str) -> Path | None:
    return Path(raw) if raw else None


def _add_path_flag(parser: argparse.ArgumentParser, flag: str, env: str, help: str) -> None:
    add_flag(parser, flag, env=env, default=None, convert=_optional_path, help=help)


def add_server_tls_flags(parser: argparse.ArgumentParser) -> None:
    """--tls-cert, --tls-key, --tls-ca: for every command that runs a server."""
    _add_path_flag(
        parser,
        "--tls-cert",
        "PROFILE_MATCHER_TLS_CERT",
        "PEM certificate chain of this server; with --tls-key, serve TLS only",
    )
    _add_path_flag(
        parser,
        "--tls-key",
        "PROFILE_MATCHER_TLS_KEY",
        "PEM private key (unencrypted) of --tls-cert",
    )
    _add_path_flag(
        parser,
        "--tls-ca",
        "PROFILE_MATCHER_TLS_CA",
        "PEM CA certificate(s); when given, clients must present a certificate signed "
        "by one of them (mutual TLS)",
    )


def add_campaigns_client_tls_flags(parser: argparse.ArgumentParser) -> None:
    """--campaigns-tls*: the matcher's connection to the campaign service."""
    add_switch(
        parser,
        "--campaigns-tls",
        env="PROFILE_MATCHER_CAMPAIGNS_TLS",
        help="connect to the campaign service over TLS, trusting the system's CAs unless "
        "--campaigns-tls-ca is given (any --campaigns-tls-* file turns TLS on)",
    )
    _add_path_flag(
        parser,
        "--campaigns-tls-ca",
        "PROFILE_MATCHER_CAMPAIGNS_TLS_CA",
        "PEM CA certificate(s) to verify the campaign service's certificate",
    )
    _add_path_flag(
        parser,
        "--campaigns-tls-cert",
        "PROFILE_MATCHER_CAMPAIGNS_TLS_CERT",
        "PEM client certificate, for a campaign service that requires mutual TLS",
    )
    _add_path_flag(
        parser,
        "--campaigns-tls-key",
        "PROFILE_MATCHER_CAMPAIGNS_TLS_KEY",
        "PEM private key (unencrypted) of --campaigns-tls-cert",
    )


def add_auth_flags(parser: argparse.ArgumentParser) -> None:
    """The matcher's: --auth-token(-file), --public-reads, --allow-unauthenticated-writes."""
    add_token_flags(
        parser,
        flag="auth-token",
        env="PROFILE_MATCHER_AUTH_TOKEN",
        purpose="shared secret that every RPC but health and reflection requires as "
        "'authorization: Bearer <token>' (only ProfileService's writes with --public-reads)",
    )
    add_switch(
        parser,
        "--public-reads",
        env="PROFILE_MATCHER_PUBLIC_READS",
        help="with a token, leave GetProfile and ProfileMatcherService (full profiles) open to "
        "anyone; only writes need the token",
    )
    add_switch(
        parser,
        "--allow-unauthenticated-writes",
        env="PROFILE_MATCHER_ALLOW_UNAUTHENTICATED_WRITES",
        help="without a token, let anyone create, update, delete and import profiles (a trusted "
        "network only); by default those writes are refused",
    )
    add_switch(
        parser,
        "--protect-reads",
        env="PROFILE_MATCHER_PROTECT_READS",
        help="deprecated, no effect: with a token, reads are protected unless --public-reads",
    )


def add_security_flags(parser: argparse.ArgumentParser) -> None:
    """Every security flag of the matcher: its own TLS, TLS to the campaign service,
    and the auth token. The campaign service needs only `add_server_tls_flags`."""
    add_server_tls_flags(parser)
    add_campaigns_client_tls_flags(parser)
    add_auth_flags(parser)
    add_campaigns_client_auth_flags(parser)


def tls_from_args(args: argparse.Namespace) -> TLSSettings:
    """Raises ValueError, naming the flag's file, for an unusable combination."""
    return TLSSettings(cert_file=args.tls_cert, key_file=args.tls_key, ca_file=args.tls_ca)


def client_tls_from_args(args: argparse.Namespace) -> ClientTLSSettings:
    return ClientTLSSettings(
        ca_file=args.campaigns_tls_ca,
        cert_file=args.campaigns_tls_cert,
        key_file=args.campaigns_tls_key,
        enabled=args.campaigns_tls,
    )


def token_from_args(args: argparse.Namespace) -> str | None:
    """The matcher's token, or None for none. Raises ValueError as `read_token` does,
    and for switches that contradict it."""
    token = read_token(args.auth_token, args.auth_token_file, "auth-token")
    if token is None and args.protect_reads:
        raise ValueError("--protect-reads needs --auth-token or --auth-token-file")
    if args.protect_reads and args.public_reads:
        raise ValueError("--protect-reads and --public-reads contradict each other")
    if token is not None and args.allow_unauthenticated_writes:
        raise ValueError(
            "--allow-unauthenticated-writes contradicts the auth token: with a token, "
            "writes need it"
        )
    if args.protect_reads:
        log.warning("--protect-reads is deprecated and has no effect: reads need the token")
    return token
