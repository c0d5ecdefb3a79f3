"""Every option of every command names the environment variable that sets it, in its
--help, as the README promises."""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.campaigns.settings import CampaignSettings
from services.cli import build_parser, main
from services.transport.grpc_server import ServerOptions, create_server, start_server

ENV_IN_HELP = re.compile(r"\benv (PROFILE_MATCHER_[A-Z0-9_]+)\b")


def commands() -> Iterator[tuple[str, argparse.ArgumentParser]]:
    parser = build_parser()
    yield "profile-matcher", parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield f"profile-matcher {name}", sub


def options(parser: argparse.ArgumentParser) -> Iterator[argparse.Action]:
    for action in parser._actions:
        if action.option_strings and not isinstance(action, argparse._HelpAction):
            yield action


def test_every_command_is_walked() -> None:
    walked = {name for name, _ in commands()}
    assert {"profile-matcher matcher", "profile-matcher health", "profile-matcher up"} <= walked


@pytest.mark.parametrize(("command", "parser"), list(commands()), ids=[n for n, _ in commands()])
def test_every_option_names_its_environment_variable(
    command: str, parser: argparse.ArgumentParser
) -> None:
    missing = [
        "/".join(action.option_strings)
        for action in options(parser)
        if not ENV_IN_HELP.search(action.help or "")
    ]
    assert not missing, f"{command}: no 'env PROFILE_MATCHER_...' in the help of {missing}"
    # And the rendered --help shows them (argparse may wrap a name, never split it).
    text = parser.format_help()
    for action in options(parser):
        match = ENV_IN_HELP.search(action.help or "")
        assert match
        assert match.group(1) in text


def test_no_environment_variable_means_two_things_in_one_command() -> None:
    for command, parser in commands():
        names = [ENV_IN_HELP.search(a.help or "") for a in options(parser)]
        found = [m.group(1) for m in names if m]
        assert len(found) == len(set(found)), command


def test_health_reads_its_options_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    options = ServerOptions(host="127.0.0.1", port=0, grace_seconds=0)
    running = start_server(create_server(options), options, [])
    running.set_serving(True)
    try:
        assert main(["health", f"127.0.0.1:{running.port}"]) == 0
        monkeypatch.setenv("PROFILE_MATCHER_HEALTH_SERVICE", "no.such.Service")
        monkeypatch.setenv("PROFILE_MATCHER_HEALTH_TIMEOUT", "5")
        assert main(["health", f"127.0.0.1:{running.port}"]) == 1
    finally:
        running.stop(0)
    assert "NOT_FOUND" in capsys.readouterr().err


def test_campaigns_host_and_poll_interval_come_from_the_environment(tmp_path: Path) -> None:
    env = {
        "PROFILE_MATCHER_CATALOG": str(tmp_path / "catalog.json"),
        "PROFILE_MATCHER_CAMPAIGNS_HOST": "127.0.0.1",
        "PROFILE_MATCHER_CATALOG_POLL_INTERVAL": "1.5",
    }
    settings = CampaignSettings.from_sources(env=env)
    assert (settings.host, settings.poll_interval) == ("127.0.0.1", 1.5)
    flags = CampaignSettings.from_sources(host="::1", poll_interval=0.5, env=env)
    assert (flags.host, flags.poll_interval) == ("::1", 0.5)


def test_a_bad_poll_interval_in_the_environment_is_named(tmp_path: Path) -> None:
    env = {"PROFILE_MATCHER_CATALOG": "c.json", "PROFILE_MATCHER_CATALOG_POLL_INTERVAL": "soon"}
    with pytest.raises(ValueError, match="PROFILE_MATCHER_CATALOG_POLL_INTERVAL"):
        CampaignSettings.from_sources(env=env)
