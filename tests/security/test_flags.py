"""The security flags: environment defaults, flag overrides, and refused combinations."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path

import pytest

from services.matcher import main as matcher_main
from services.matcher.security_flags import (
    add_security_flags,
    campaigns_client_token_from_args,
    client_tls_from_args,
    token_from_args,
)
from services.matcher.settings import MatcherSettings
from services.server_flags import add_server_tls_flags, tls_from_args
from services.transport.auth import bearer_metadata
from tests.security.pki import PKI

TOKEN = "0123456789abcdef-flag-token"
ENV = (
    "PROFILE_MATCHER_TLS_CERT",
    "PROFILE_MATCHER_TLS_KEY",
    "PROFILE_MATCHER_TLS_CA",
    "PROFILE_MATCHER_CAMPAIGNS_TLS",
    "PROFILE_MATCHER_CAMPAIGNS_TLS_CA",
    "PROFILE_MATCHER_CAMPAIGNS_TLS_CERT",
    "PROFILE_MATCHER_CAMPAIGNS_TLS_KEY",
    "PROFILE_MATCHER_AUTH_TOKEN",
    "PROFILE_MATCHER_AUTH_TOKEN_FILE",
    "PROFILE_MATCHER_PROTECT_READS",
    "PROFILE_MATCHER_PUBLIC_READS",
    "PROFILE_MATCHER_ALLOW_UNAUTHENTICATED_WRITES",
    "PROFILE_MATCHER_CAMPAIGNS_AUTH_TOKEN",
    "PROFILE_MATCHER_CAMPAIGNS_AUTH_TOKEN_FILE",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV:
        monkeypatch.delenv(name, raising=False)


def parser() -> argparse.ArgumentParser:
    # Built after the environment is set: defaults are read when flags are added.
    built = argparse.ArgumentParser()
    add_security_flags(built)
    return built


def parse(argv: Sequence[str] = ()) -> argparse.Namespace:
    return parser().parse_args(list(argv))


def test_defaults_are_plaintext_and_open() -> None:
    args = parse()
    assert not tls_from_args(args).enabled
    assert not client_tls_from_args(args).enabled
    assert token_from_args(args) is None
    assert args.protect_reads is False
    # Safe by default: writes closed without a token, reads guarded with one.
    assert (args.allow_unauthenticated_writes, args.public_reads) == (False, False)
    assert campaigns_client_token_from_args(args) is None


def test_server_tls_from_flags(pki: PKI) -> None:
    trusted = pki.trusted
    args = parse(
        ["--tls-cert", str(trusted.server.cert), "--tls-key", str(trusted.server.key),
         "--tls-ca", str(trusted.ca)]
    )  # fmt: skip
    tls = tls_from_args(args)
    assert (tls.cert_file, tls.key_file, tls.ca_file) == (
        trusted.server.cert,
        trusted.server.key,
        trusted.ca,
    )
    assert tls.mutual


def test_server_tls_from_environment(pki: PKI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROFILE_MATCHER_TLS_CERT", str(pki.trusted.server.cert))
    monkeypatch.setenv("PROFILE_MATCHER_TLS_KEY", str(pki.trusted.server.key))
    tls = tls_from_args(parse())
    assert tls.enabled
    assert not tls.mutual


def test_flag_overrides_environment(pki: PKI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROFILE_MATCHER_TLS_CERT", "/nowhere/server.crt")
    monkeypatch.setenv("PROFILE_MATCHER_TLS_KEY", str(pki.trusted.server.key))
    tls = tls_from_args(parse(["--tls-cert", str(pki.trusted.server.cert)]))
    assert tls.cert_file == pki.trusted.server.cert


def test_half_configured_server_tls_is_refused(pki: PKI) -> None:
    with pytest.raises(ValueError, match="without its private key"):
        tls_from_args(parse(["--tls-cert", str(pki.trusted.server.cert)]))


def test_server_only_parser_has_no_client_or_auth_flags() -> None:
    # The campaign service gets its own TLS flags and nothing meant for the matcher.
    only = argparse.ArgumentParser()
    add_server_tls_flags(only)
    assert not hasattr(only.parse_args([]), "auth_token")
    with pytest.raises(SystemExit):
        only.parse_args(["--campaigns-tls"])


def test_campaigns_tls_switch_uses_system_roots() -> None:
    tls = client_tls_from_args(parse(["--campaigns-tls"]))
    assert tls.enabled
    assert tls.ca_file is None


@pytest.mark.parametrize(("raw", "enabled"), [("true", True), ("1", True), ("off", False)])
def test_campaigns_tls_switch_from_environment(
    raw: str, enabled: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROFILE_MATCHER_CAMPAIGNS_TLS", raw)
    assert client_tls_from_args(parse()).enabled is enabled


def test_switch_flag_overrides_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROFILE_MATCHER_CAMPAIGNS_TLS", "true")
    assert not client_tls_from_args(parse(["--no-campaigns-tls"])).enabled


def test_bad_switch_value_in_environment_stops_with_its_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PROFILE_MATCHER_PROTECT_READS", "maybe")
    with pytest.raises(SystemExit, match="PROFILE_MATCHER_PROTECT_READS"):
        parser()


def test_campaigns_ca_alone_turns_tls_on(pki: PKI) -> None:
    tls = client_tls_from_args(parse(["--campaigns-tls-ca", str(pki.trusted.ca)]))
    assert tls.enabled
    assert tls.ca_file == pki.trusted.ca


def test_campaigns_client_certificate_from_environment(
    pki: PKI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROFILE_MATCHER_CAMPAIGNS_TLS_CA", str(pki.trusted.ca))
    monkeypatch.setenv("PROFILE_MATCHER_CAMPAIGNS_TLS_CERT", str(pki.trusted.client.cert))
    monkeypatch.setenv("PROFILE_MATCHER_CAMPAIGNS_TLS_KEY", str(pki.trusted.client.key))
    tls = client_tls_from_args(parse())
    assert (tls.enabled, tls.cert_file, tls.key_file) == (
        True,
        pki.trusted.client.cert,
        pki.trusted.client.key,
    )


def test_token_from_flag_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert token_from_args(parse(["--auth-token", TOKEN])) == TOKEN
    monkeypatch.setenv("PROFILE_MATCHER_AUTH_TOKEN", TOKEN)
    assert token_from_args(parse()) == TOKEN


def test_token_from_file_ignores_surrounding_whitespace(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(f"  {TOKEN}\n")
    assert token_from_args(parse(["--auth-token-file", str(token_file)])) == TOKEN


def test_token_from_both_sources_is_refused(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    args = parse(["--auth-token", TOKEN, "--auth-token-file", str(token_file)])
    with pytest.raises(ValueError, match="not both"):
        token_from_args(args)


def test_empty_or_missing_token_file_is_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(ValueError, match=f"auth token file {empty} is empty"):
        token_from_args(parse(["--auth-token-file", str(empty)]))
    missing = tmp_path / "missing"
    with pytest.raises(ValueError, match=f"cannot read auth token file {missing}"):
        token_from_args(parse(["--auth-token-file", str(missing)]))


def test_token_that_cannot_be_sent_is_refused() -> None:
    with pytest.raises(ValueError, match="printable ASCII without spaces"):
        token_from_args(parse(["--auth-token", "two words"]))


def test_protect_reads_without_token_is_refused() -> None:
    with pytest.raises(ValueError, match="--protect-reads needs"):
        token_from_args(parse(["--protect-reads"]))


def test_protect_reads_with_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROFILE_MATCHER_PROTECT_READS", "yes")
    args = parse(["--auth-token", TOKEN])
    assert args.protect_reads is True
    assert token_from_args(args) == TOKEN


def test_help_never_shows_the_token_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROFILE_MATCHER_AUTH_TOKEN", TOKEN)
    text = parser().format_help()
    assert "PROFILE_MATCHER_AUTH_TOKEN" in text
    assert TOKEN not in text


@pytest.mark.parametrize("name", ["allow_unauthenticated_writes", "public_reads"])
def test_auth_switches_from_flag_and_environment(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    flag = "--" + name.replace("_", "-")
    assert getattr(parse([flag]), name) is True
    monkeypatch.setenv("PROFILE_MATCHER_" + name.upper(), "true")
    assert getattr(parse(), name) is True
    assert getattr(parse(["--no-" + flag[2:]]), name) is False


def test_public_reads_with_token() -> None:
    args = parse(["--auth-token", TOKEN, "--public-reads"])
    assert (token_from_args(args), args.public_reads) == (TOKEN, True)


def test_allow_unauthenticated_writes_with_a_token_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PROFILE_MATCHER_ALLOW_UNAUTHENTICATED_WRITES", "yes")
    with pytest.raises(ValueError, match="--allow-unauthenticated-writes contradicts"):
        token_from_args(parse(["--auth-token", TOKEN]))


def test_protect_reads_is_a_deprecated_no_op(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="services.matcher.security_flags")
    assert token_from_args(parse(["--auth-token", TOKEN, "--protect-reads"])) == TOKEN
    assert "--protect-reads is deprecated" in caplog.text


def test_protect_reads_with_public_reads_is_refused() -> None:
    args = parse(["--auth-token", TOKEN, "--protect-reads", "--public-reads"])
    with pytest.raises(ValueError, match="contradict"):
        token_from_args(args)


def test_campaigns_token_from_flag_environment_and_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert campaigns_client_token_from_args(parse(["--campaigns-auth-token", TOKEN])) == TOKEN
    token_file = tmp_path / "token"
    token_file.write_text(f"{TOKEN}\n")
    args = parse(["--campaigns-auth-token-file", str(token_file)])
    assert campaigns_client_token_from_args(args) == TOKEN
    monkeypatch.setenv("PROFILE_MATCHER_CAMPAIGNS_AUTH_TOKEN", TOKEN)
    assert campaigns_client_token_from_args(parse()) == TOKEN
    # The matcher's own token is another setting.
    assert token_from_args(parse()) is None


def test_campaigns_token_from_both_sources_is_refused(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    args = parse(["--campaigns-auth-token", TOKEN, "--campaigns-auth-token-file", str(token_file)])
    with pytest.raises(ValueError, match="--campaigns-auth-token or --campaigns-auth-token-file"):
        campaigns_client_token_from_args(args)


def test_campaigns_token_that_cannot_be_sent_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="printable ASCII"):
        campaigns_client_token_from_args(parse(["--campaigns-auth-token", "two words"]))
    empty = tmp_path / "empty"
    empty.write_text(" ")
    with pytest.raises(ValueError, match=f"campaigns auth token file {empty} is empty"):
        campaigns_client_token_from_args(parse(["--campaigns-auth-token-file", str(empty)]))


def test_bearer_metadata() -> None:
    assert bearer_metadata(None) == ()
    assert bearer_metadata(TOKEN) == (("authorization", f"Bearer {TOKEN}"),)


def test_matcher_settings_carry_the_auth_flags() -> None:
    def settings(*argv: str) -> MatcherSettings:
        built = argparse.ArgumentParser()
        matcher_main.configure(built)
        return MatcherSettings.from_args(built.parse_args(list(argv)))

    assert (settings().allow_unauthenticated_writes, settings().public_reads) == (False, False)
    opened = settings("--allow-unauthenticated-writes", "--campaigns-auth-token", TOKEN)
    assert (opened.allow_unauthenticated_writes, opened.auth_token) == (True, None)
    assert opened.campaigns_auth_token == TOKEN
    public = settings("--auth-token", TOKEN, "--public-reads")
    assert (public.auth_token, public.public_reads, public.campaigns_auth_token) == (
        TOKEN,
        True,
        None,
    )
