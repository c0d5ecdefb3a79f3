"""The matcher's settings are parsed in one place, store included."""

from __future__ import annotations

import argparse
import logging

import pytest

from services.matcher.settings import (
    EMBEDDED_MATCH_WORKERS,
    WAITING_STORE_MATCH_WORKERS,
    MatcherSettings,
    add_flags,
)


def settings(*argv: str) -> MatcherSettings:
    parser = argparse.ArgumentParser()
    add_flags(parser)
    return MatcherSettings.from_args(parser.parse_args(list(argv)))


def test_the_store_and_its_time_limits_are_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("STORE", "TIMEOUT", "INDEX_BUILD_TIMEOUT", "MATCH_WORKERS"):
        monkeypatch.delenv(f"PROFILE_MATCHER_{name}", raising=False)
    defaults = settings()
    assert (defaults.store, defaults.store_timeout) == ("", 2.0)
    assert defaults.match_workers == EMBEDDED_MATCH_WORKERS
    given = settings("--store", "profiles.db", "--timeout", "3")
    assert (given.store, given.store_timeout) == ("profiles.db", 3)
    # One --timeout bounds both dependencies.
    assert given.campaigns_timeout == 3
    assert given.match_workers == WAITING_STORE_MATCH_WORKERS
    monkeypatch.setenv("PROFILE_MATCHER_STORE", "mongodb://db/game")
    assert settings().store == "mongodb://db/game"


@pytest.mark.parametrize("value", ["1800", "0", "nan"])
def test_an_index_build_timeout_is_accepted_and_only_warns(
    value: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("PROFILE_MATCHER_INDEX_BUILD_TIMEOUT", raising=False)
    with caplog.at_level(logging.WARNING, logger="services.matcher.settings"):
        unset = settings()
    assert not caplog.records

    with caplog.at_level(logging.WARNING, logger="services.matcher.settings"):
        given = settings("--index-build-timeout", value)
    assert [r.getMessage() for r in caplog.records] == [
        "--index-build-timeout (PROFILE_MATCHER_INDEX_BUILD_TIMEOUT) is deprecated and does"
        " nothing: the player id is MongoDB's _id, so no index is built; drop it"
    ]
    assert given == unset

    caplog.clear()
    monkeypatch.setenv("PROFILE_MATCHER_INDEX_BUILD_TIMEOUT", value)
    with caplog.at_level(logging.WARNING, logger="services.matcher.settings"):
        settings()
    assert len(caplog.records) == 1
