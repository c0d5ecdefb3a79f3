"""The conditions benchmark stays runnable and checks its answers (no timings asserted)."""

from __future__ import annotations

import random

import pytest

from bench import conditions


def test_every_template_parses_and_some_profiles_match() -> None:
    rng = random.Random(3)
    made = conditions.make_conditions(len(conditions.TEMPLATES) * 3, rng)
    profiles = [(conditions.make_profile(rng), conditions.make_context(rng)) for _ in range(300)]
    for name in conditions.TEMPLATES:
        chosen = [c for template, c in made if template == name]
        verdicts = [c.evaluate(p, ctx, conditions.NOW) for c in chosen for p, ctx in profiles]
        assert any(verdicts), name
        assert not all(verdicts), name


def test_benchmark_runs_and_prints_a_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert conditions.main(["--conditions", "14", "--profiles", "20", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert "| template | clauses | holds | reference µs | compiled µs | speedup | build µs |" in out
    assert "| level range + country | 2 |" in out
    assert "uv run python -m bench.conditions --conditions 14 --profiles 20 --repeats 1" in out
