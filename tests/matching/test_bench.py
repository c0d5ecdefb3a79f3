"""The benchmark and its workload stay runnable and keep their promises (no timings asserted)."""

from __future__ import annotations

from collections import Counter

import pytest

from bench import engine
from bench.workload import BENCH_NOW, make_catalog, make_profiles, make_requests


def test_workload_is_reproducible() -> None:
    assert make_catalog(60, seed=4) == make_catalog(60, seed=4)
    assert make_profiles(30, seed=4) == make_profiles(30, seed=4)
    assert make_catalog(60, seed=4) != make_catalog(60, seed=5)


def test_workload_has_the_advertised_mix() -> None:
    campaigns = make_catalog(1_000, seed=1).campaigns
    keys = [(c.game, c.name) for c in campaigns]
    assert len(set(keys)) == len(keys)
    # (game, name) is unique, so a name seen twice is in several games.
    assert max(Counter(name for _, name in keys).values()) > 1
    assert any(not c.enabled for c in campaigns)
    assert any(c.end_date <= BENCH_NOW for c in campaigns)
    assert any(c.start_date > BENCH_NOW for c in campaigns)
    assert any(not c.countries for c in campaigns)
    assert any(c.level is None for c in campaigns)
    assert any(len(c.required_items) >= 2 for c in campaigns)
    assert any(c.countries != tuple(code.upper() for code in c.countries) for c in campaigns)


def test_requests_are_the_profiles_with_a_game() -> None:
    requests = make_requests(20, seed=9)
    assert [r.profile for r in requests] == make_profiles(20, seed=9)
    assert all(r.game for r in requests)


def test_benchmark_runs_and_prints_a_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert engine.main(["--sizes", "10", "40", "--profiles", "15", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert "| campaigns | request |" in out
    assert "| 40 | all games |" in out
    assert "uv run python -m bench.engine --sizes 10 40 --profiles 15 --repeats 1" in out
