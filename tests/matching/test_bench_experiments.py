"""The experiment workload of bench.engine has the mix it advertises, reproducibly."""

from __future__ import annotations

from bench.experiment_workload import with_experiments
from bench.workload import make_catalog


def test_experiment_workload_has_the_advertised_mix() -> None:
    catalog = with_experiments(make_catalog(1_000, seed=1), seed=1)
    campaigns = catalog.campaigns
    share = {
        "rollout": sum(c.rollout is not None for c in campaigns) / len(campaigns),
        "variants": sum(bool(c.variants) for c in campaigns) / len(campaigns),
        "schedule": sum(c.schedule is not None for c in campaigns) / len(campaigns),
        "group": sum(bool(c.group) for c in campaigns) / len(campaigns),
    }
    assert 0.25 < share["rollout"] < 0.35
    assert 0.07 < share["variants"] < 0.13
    assert 0.03 < share["schedule"] < 0.07
    assert 0.20 < share["group"] < 0.30
    assert len(catalog.groups) == 5
    assert {c.group for c in campaigns if c.group} == {g.name for g in catalog.groups}
    assert with_experiments(make_catalog(100, seed=2), seed=2) == with_experiments(
        make_catalog(100, seed=2), seed=2
    )
