"""Shared-secret tokens as configured (flags, environment, files) and as a client sends
them: the matcher's to the campaign service, as `authorization: Bearer <token>` on
every call, the watch stream included.

Sent as call metadata rather than grpc call credentials, which gRPC refuses to send
over a plaintext channel.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from services.config import add_flag

AUTHORIZATION = "authorization"
Metadata = tuple[tuple[str, str], ...]


def check_token(token: str) -> None:
    """A token must travel as an HTTP/2 header value: printable ASCII, no spaces."""
    if not token:
        raise ValueError("the auth token is empty")
    if not all("!" <= char <= "~" for char in token):
        raise ValueError(
            "the auth token must be printable ASCII without spaces (it is sent as a header)"
        )


def bearer_metadata(token: str | None) -> Metadata:
    """What a call carries to a server that wants `token` (nothing for None)."""
    if token is None:
        return ()
    check_token(token)
    return ((AUTHORIZATION, f"Bearer {token}"),)


def _optional_path(raw: str) -> Path | None:
    return Path(raw) if raw else None


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
        convert=_optional_path,
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


# The campaign service reads the same variables as the matcher's client of it, so one
# setting configures both ends.
CAMPAIGNS_TOKEN_ENV = "PROFILE_MATCHER_CAMPAIGNS_AUTH_TOKEN"


def add_campaign_service_auth_flags(parser: argparse.ArgumentParser) -> None:
    """`profile-matcher campaigns --auth-token(-file)`."""
    add_token_flags(
        parser,
        flag="auth-token",
        env=CAMPAIGNS_TOKEN_ENV,
        purpose="shared secret that ListCampaigns and WatchCampaigns require as "
        "'authorization: Bearer <token>' (health and reflection stay open)",
    )


def campaign_service_token_from_args(args: argparse.Namespace) -> str | None:
    return read_token(args.auth_token, args.auth_token_file, "auth-token")


def add_campaigns_client_auth_flags(parser: argparse.ArgumentParser) -> None:
    """`profile-matcher matcher --campaigns-auth-token(-file)`."""
    add_token_flags(
        parser,
        flag="campaigns-auth-token",
        env=CAMPAIGNS_TOKEN_ENV,
        purpose="token sent to the campaign service on every call (its --auth-token)",
    )


def campaigns_client_token_from_args(args: argparse.Namespace) -> str | None:
    return read_token(
        args.campaigns_auth_token, args.campaigns_auth_token_file, "campaigns-auth-token"
    )
