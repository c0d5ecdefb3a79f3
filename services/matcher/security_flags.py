"""The matcher's security flags beside the server's own TLS: its token and who needs
it, and TLS and a token to the campaign service; and what they parse into."""

from __future__ import annotations

import argparse
import logging

from services.config import add_switch
from services.server_flags import (
    CAMPAIGNS_TOKEN_ENV,
    add_path_flag,
    add_server_tls_flags,
    add_token_flags,
    read_token,
)
from services.transport.tls import ClientTLSSettings, client_tls

log = logging.getLogger(__name__)


def add_security_flags(parser: argparse.ArgumentParser) -> None:
    """Every security flag of the matcher: its own TLS, TLS to the campaign service,
    and the auth tokens. The campaign service needs only `add_server_tls_flags`."""
    add_server_tls_flags(parser)
    add_campaigns_client_tls_flags(parser)
    add_auth_flags(parser)
    add_campaigns_client_auth_flags(parser)


def add_campaigns_client_tls_flags(parser: argparse.ArgumentParser) -> None:
    """--campaigns-tls*: the matcher's connection to the campaign service."""
    add_switch(
        parser,
        "--campaigns-tls",
        env="PROFILE_MATCHER_CAMPAIGNS_TLS",
        help="connect to the campaign service over TLS, trusting the system's CAs unless "
        "--campaigns-tls-ca is given (any --campaigns-tls-* file turns TLS on)",
    )
    add_path_flag(
        parser,
        "--campaigns-tls-ca",
        "PROFILE_MATCHER_CAMPAIGNS_TLS_CA",
        "PEM CA certificate(s) to verify the campaign service's certificate",
    )
    add_path_flag(
        parser,
        "--campaigns-tls-cert",
        "PROFILE_MATCHER_CAMPAIGNS_TLS_CERT",
        "PEM client certificate, for a campaign service that requires mutual TLS",
    )
    add_path_flag(
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


def add_campaigns_client_auth_flags(parser: argparse.ArgumentParser) -> None:
    """`profile-matcher matcher --campaigns-auth-token(-file)`."""
    add_token_flags(
        parser,
        flag="campaigns-auth-token",
        env=CAMPAIGNS_TOKEN_ENV,
        purpose="token sent to the campaign service on every call (its --auth-token)",
    )


def client_tls_from_args(args: argparse.Namespace) -> ClientTLSSettings:
    """Raises ValueError, naming the flag's file, for an unusable combination or file."""
    return client_tls(
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


def campaigns_client_token_from_args(args: argparse.Namespace) -> str | None:
    return read_token(
        args.campaigns_auth_token, args.campaigns_auth_token_file, "campaigns-auth-token"
    )
