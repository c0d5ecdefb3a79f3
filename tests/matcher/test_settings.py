"""The matcher's settings are parsed in one place, store included."""

from __future__ import annotations

import argparse

import pytest

from services.matcher.settings import (
    EMBEDDED_MATCH_WORKERS,
    WAITING_STORE_MATCH_WORKERS,
    MatcherSettings,
    add_flags,
)
from services.storage.mongo_store import DEFAULT_INDEX_BUILD_TIMEOUT


def settings(*argv: str) -> MatcherSettings:
    parser = argparse.ArgumentParser()
    add_flags(parser)
    return MatcherSettings.from_args(parser.parse_args(list(argv)))


def test_the_store_and_its_time_limits_are_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("STORE", "TIMEOUT", "INDEX_BUILD_TIMEOUT", "MATCH_WORKERS"):
        monkeypatch.delenv(f"PROFILE_MATCHER_{name}", raising=False)
    defaults = settings()
    assert (defaults.store, defaults.store_timeout, defaults.index_build_timeout) == (
        "",
        2.0,
        DEFAULT_INDEX_BUILD_TIMEOUT,
    )
    assert defaults.match_workers == EMBEDDED_MATCH_WORKERS
    given = settings("--store", "profiles.db", "--timeout", "3", "--index-build-timeout", "60")
    assert (given.store, given.store_timeout, given.index_build_timeout) == ("profiles.db", 3, 60)
    # One --timeout bounds both dependencies.
    assert given.campaigns_timeout == 3
    assert given.match_workers == WAITING_STORE_MATCH_WORKERS
    monkeypatch.setenv("PROFILE_MATCHER_STORE", "mongodb://db/game")
    assert settings().store == "mongodb://db/game"
