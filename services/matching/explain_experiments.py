"""What explanations say about schedules and experiments (explain.py asks).

The words follow the decisions of services.matching.experiments, with the numbers
they were made on, so that an operator can check one by hand:

    schedule: not live now, next live 2026-11-27 18:00 Europe/Paris
    rollout: not in rollout (bucket 61,234 >= 25,000)
    holdout: in holdout of group popup (bucket 1,234 < 5,000)
    group: group popup full (taken by starter_pack)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.domain.campaign import Campaign
from services.domain.experiment import Group, format_percent
from services.domain.profile import Profile
from services.domain.schedule import format_duration, format_local, live_at, next_occurrence
from services.domain.timefmt import format_timestamp
from services.matching.experiments import (
    Decision,
    Verdict,
    choose_variant,
    decide,
    groups_by_name,
    variant_point,
)
from services.matching.reference import matches, rank_key, where_holds


@dataclass(frozen=True, slots=True)
class Finding:
    """One check's result as explain reports it; `failed` False means it held."""

    failed: bool
    matcher: str = ""
    expected: str = ""
    actual: str = ""
    reason: str = ""
    rollout_bucket: int | None = None
    variant: str = ""
    variant_bucket: int | None = None


def decisions(
    profile: Profile,
    campaigns: Sequence[Campaign],
    now: datetime,
    groups: Iterable[Group],
    where: tuple[Mapping[str, Any], Mapping[str, Any]] = ({}, {}),
) -> dict[int, Decision]:
    """id(campaign) -> the experiment decision for every campaign the player matched,
    matchers and `where` (on `where`: the profile's document and the request's
    context), of every game (group limits count them all)."""
    document, context = where
    matched = sorted(
        (
            c
            for c in campaigns
            if matches(c, profile, now) and where_holds(c, document, context, now)
        ),
        key=rank_key,
    )
    return {id(d.campaign): d for d in decide(matched, profile.player_id, groups_by_name(groups))}


def schedule_finding(campaign: Campaign, now: datetime) -> Finding:
    """Whether a campaign within its window is in one of its schedule's live intervals."""
    schedule = campaign.schedule
    if schedule is None or live_at(schedule, now):
        return Finding(False)
    expected = f"{schedule.cron} for {format_duration(schedule.duration)} ({schedule.timezone})"
    upcoming = next_occurrence(schedule, now)
    if upcoming is not None and upcoming < campaign.end_date:
        after = f"next live {format_local(upcoming, schedule.timezone)}"
    else:
        after = f"no live time left before end_date {format_timestamp(campaign.end_date)}"
    actual = format_local(now, schedule.timezone)
    return Finding(True, "schedule", expected, actual, f"schedule: not live now, {after}")


def experiment_finding(
    campaign: Campaign, decision: Decision | None, player_id: str, groups: Mapping[str, Group]
) -> Finding:
    """The rollout, holdout and group limit, in that order, for a matched campaign."""
    if decision is None:
        raise ValueError(f"campaign {campaign.name!r} matched but has no decision")
    rolled = decision.rollout_bucket
    if decision.verdict is Verdict.NOT_IN_ROLLOUT:
        assert campaign.rollout is not None
        assert rolled is not None
        threshold = campaign.rollout.threshold
        return Finding(
            True,
            "rollout",
            f"bucket under {threshold:,} ({format_percent(threshold)}%)",
            f"bucket {rolled:,}",
            f"rollout: not in rollout (bucket {rolled:,} >= {threshold:,})",
            rollout_bucket=rolled,
        )
    group = groups.get(campaign.group, Group(campaign.group))
    if decision.verdict is Verdict.HELD_OUT:
        held = decision.holdout_bucket
        assert held is not None
        threshold = group.holdout_threshold
        return Finding(
            True,
            "holdout",
            f"bucket {threshold:,} or more (holdout {format_percent(threshold)}%)",
            f"bucket {held:,}",
            f"holdout: in holdout of group {group.name} (bucket {held:,} < {threshold:,})",
            rollout_bucket=rolled,
        )
    if decision.verdict is Verdict.GROUP_FULL:
        winners = ", ".join(c.name for c in decision.taken_by)
        return Finding(
            True,
            "group",
            f"at most {group.max_active} of group {group.name}",
            f"taken by {winners}",
            f"group: group {group.name} full (taken by {winners})",
            rollout_bucket=rolled,
        )
    variant = choose_variant(campaign, player_id)
    return Finding(
        False,
        rollout_bucket=rolled,
        variant="" if variant is None else variant.name,
        variant_bucket=variant_point(campaign, player_id),
    )
