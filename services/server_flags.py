"""The flags every server command shares, and what they parse into: the server's own
TLS, a shared-secret token, the metrics endpoint.

Each command's settings module (services/matcher/settings.py,
services/campaigns/settings.py) adds these beside its own flags and reads them back.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from services.config import add_flag, optional_path
from services.observability.http import CONVENTIONAL_PORT, MetricsSettings
from services.transport.auth import check_token
from services.transport.tls import TLSSettings, server_tls

log = logging.getLogger(__name__)

# The campaign service reads the same variables as the matcher's client of it, so one
# setting configures both ends.
CAMPAIGNS_TOKEN_ENV = "PROFILE_MATCHER_CAMPAIGNS_AUTH_TOKEN"


def add_path_flag(parser: argparse.ArgumentParser, flag: str, env: str, help: str) -> None:
    add_flag(parser, flag, env=env, default=None, convert=optional_path, help=help)


# --- the server's own TLS -------------------------------------------------------------


def add_server_tls_flags(parser: argparse.ArgumentParser) -> None:
    """--tls-cert, --tls-key, --tls-ca: for every command that runs a server."""
    add_path_flag(
        parser,
        "--tls-cert",
        "PROFILE_MATCHER_TLS_CERT",
        "PEM certificate chain of this server; with --tls-key, serve TLS only",
    )
    add_path_flag(
        parser,
        "--tls-key",
        "PROFILE_MATCHER_TLS_KEY",
        "PEM private key (unencrypted) of --tls-cert",
    )
    add_path_flag(
        parser,
        "--tls-ca",
        "PROFILE_MATCHER_TLS_CA",
        "PEM CA certificate(s); when given, clients must present a certificate signed "
        "by one of them (mutual TLS)",
    )


def tls_from_args(args: argparse.Namespace) -> TLSSettings:
    """Raises ValueError, naming the flag's file, for an unusable combination or file."""
    return server_tls(cert_file=args.tls_cert, key_file=args.tls_key, ca_file=args.tls_ca)


# --- shared-secret tokens -------------------------------------------------------------


def add_token_flags(parser: argparse.ArgumentParser, *, flag: str, env: str, purpose: str) -> None:
    """`--<flag>` and `--<flag>-file`, from $<env> and $<env>_FILE: one shared secret."""
    add_flag(
        parser,
        f"--{flag}",
        env=env,
        default="",
        convert=str,
        help=f"{purpose}; empty: none. Prefer the environment or --{flag}-file, since a "
        "flag shows in the process list",
    )
    add_flag(
        parser,
        f"--{flag}-file",
        env=f"{env}_FILE",
        default=None,
        convert=optional_path,
        help=f"instead of --{flag}: a file holding the token (surrounding whitespace ignored)",
    )


def read_token(value: str, token_file: Path | None, flag: str) -> str | None:
    """The token given as `--<flag>` or in `--<flag>-file`, or None for none.

    Raises ValueError for both sources at once, an empty or unreadable file, and a
    token that cannot be sent as a header.
    """
    token: str | None = value or None
    if token is not None and token_file is not None:
        raise ValueError(f"give --{flag} or --{flag}-file, not both")
    if token_file is not None:
        what = flag.replace("-", " ") + " file"
        try:
            raw = token_file.read_bytes()
        except OSError as exc:
            raise ValueError(f"cannot read {what} {token_file}: {exc.strerror or exc}") from None
        token = raw.decode("utf-8", "replace").strip()
        if not token:
            raise ValueError(f"{what} {token_file} is empty")
    if token is not None:
        check_token(token)
    return token


# --- the metrics endpoint -------------------------------------------------------------


def add_metrics_flags(parser: argparse.ArgumentParser) -> None:
    add_flag(
        parser,
        "--metrics-port",
        env="PROFILE_MATCHER_METRICS_PORT",
        default=0,
        convert=int,
        help=f"port for Prometheus metrics at /metrics, 0 for none ({CONVENTIONAL_PORT} is usual)",
    )
    add_flag(
        parser,
        "--metrics-host",
        env="PROFILE_MATCHER_METRICS_HOST",
        default="0.0.0.0",
        convert=str,
        help="address for the metrics endpoint",
    )


def metrics_settings_from(args: argparse.Namespace) -> MetricsSettings:
    return MetricsSettings(port=args.metrics_port, host=args.metrics_host)


def warn_if_token_in_clear(token: str | None, tls_enabled: bool, which: str) -> None:
    """Warns when `which` (a token and the connection it travels on) is sent
    without TLS: anyone on the path can read it."""
    if token and not tls_enabled:
        log.warning("%s is set but TLS is off: the token travels in clear text", which)
