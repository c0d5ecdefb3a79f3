"""Why each campaign did or did not match a profile: the brief's "Explain" feature.

Evaluates the same rule functions as the reference engine, in the brief's order, and
reports the first one that fails, with what the campaign asks for (`expected`) and what
the request, profile or clock has (`actual`), so an operator can act on a single line.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from services.domain.campaign import Campaign
from services.domain.conditions import ClauseFailure
from services.domain.experiment import Group
from services.domain.profile import Profile
from services.domain.timefmt import format_timestamp
from services.matching.experiments import Decision, groups_by_name
from services.matching.explain_experiments import (
    decisions,
    experiment_finding,
    schedule_finding,
)
from services.matching.reference import (
    considered,
    country_holds,
    does_not_have_holds,
    has_items_holds,
    level_holds,
    profile_document,
    require_aware,
)

UNSET = "unset"


class Outcome(enum.Enum):
    MATCHED = "matched"
    # The campaign was live and for the requested game, and a matcher rejected the profile.
    NOT_MATCHED = "not_matched"
    # Filtered out before looking at the profile: other game, disabled, or outside its window.
    NOT_CONSIDERED = "not_considered"


@dataclass(frozen=True, slots=True)
class Explanation:
    game: str
    campaign: str
    outcome: Outcome
    # The first failing check ("enabled", "window", "schedule", "game", "level",
    # "has.country", "has.items", "does_not_have.items", "where", "rollout",
    # "holdout", "group"); empty when matched.
    matcher: str
    expected: str
    actual: str
    reason: str
    # For "where": the clause that failed.
    clause: ClauseFailure | None = None
    # The player's rollout bucket, when the campaign has a rollout and it was decided.
    rollout_bucket: int | None = None
    # For a matched campaign with variants: the variant, and (h * W) >> 32, the point
    # on the weights it was picked by.
    variant: str = ""
    variant_bucket: int | None = None


def explain(
    profile: Profile,
    campaigns: Iterable[Campaign],
    now: datetime,
    game: str | None = None,
    context: Mapping[str, Any] | None = None,
    *,
    groups: Iterable[Group] = (),
) -> list[Explanation]:
    """One explanation per campaign, in the order given (catalog order); `context`:
    the request's, for `where` conditions.

    Rollouts, holdouts and variants hash `profile.player_id`; group limits count the
    player's campaigns of every game, whatever `game` asks for."""
    require_aware(now)
    campaigns = tuple(campaigns)
    target = _Target(profile_document(profile, campaigns), context or {})
    by_name = groups_by_name(groups)
    decided = decisions(
        profile, campaigns, now, by_name.values(), (target.document, target.context)
    )
    return [
        _explain_one(
            profile, campaign, now, game, target, decision=decided.get(id(campaign)), groups=by_name
        )
        for campaign in campaigns
    ]


@dataclass(frozen=True, slots=True)
class _Target:
    """What `where` conditions read: the profile's document and the request's context."""

    document: Mapping[str, Any]
    context: Mapping[str, Any]


def _explain_one(
    profile: Profile,
    campaign: Campaign,
    now: datetime,
    game: str | None,
    target: _Target,
    *,
    decision: Decision | None,
    groups: dict[str, Group],
) -> Explanation:

    def verdict(
        outcome: Outcome, matcher: str, expected: str, actual: str, reason: str
    ) -> Explanation:
        return Explanation(
            game=campaign.game,
            campaign=campaign.name,
            outcome=outcome,
            matcher=matcher,
            expected=expected,
            actual=actual,
            reason=reason,
        )

    def skipped(matcher: str, expected: str, actual: str, reason: str) -> Explanation:
        return verdict(Outcome.NOT_CONSIDERED, matcher, expected, actual, reason)

    def failed(matcher: str, expected: str, actual: str, detail: str) -> Explanation:
        return verdict(
            Outcome.NOT_MATCHED,
            matcher,
            expected,
            actual,
            f"{matcher}: want {detail}",
        )

    if not campaign.enabled:
        return skipped("enabled", "true", "false", "enabled: campaign is disabled")
    if not campaign.start_date <= now < campaign.end_date:
        window = f"{format_timestamp(campaign.start_date)} .. {format_timestamp(campaign.end_date)}"
        if campaign.start_date >= campaign.end_date:
            why = "the window is empty"
        elif now < campaign.start_date:
            why = "not started yet"
        else:
            why = "already ended"
        at = format_timestamp(now)
        return skipped("window", window, at, f"window: want {window}, now is {at} ({why})")
    if (scheduled := schedule_finding(campaign, now)).failed:
        return skipped(scheduled.matcher, scheduled.expected, scheduled.actual, scheduled.reason)
    # The brief's order of decisions: enabled, window and schedule, then the game.
    if not considered(campaign, game):
        return skipped(
            "game",
            campaign.game,
            game or "",
            f"game: campaign is for {campaign.game}, request asks for {game}",
        )

    # level_holds passes whenever there is no level matcher, so `level` is set here.
    if campaign.level is not None and not level_holds(campaign, profile):
        want = f"{campaign.level.min}..{campaign.level.max}"
        have = UNSET if profile.level is None else str(profile.level)
        return failed("level", want, have, f"{want}, have {have}")
    if not country_holds(campaign, profile):
        want = ", ".join(campaign.countries)
        have = UNSET if profile.country is None else (profile.country or '""')
        return failed("has.country", want, have, f"one of {want}, have {have}")
    if not has_items_holds(campaign, profile):
        want = ", ".join(campaign.required_items)
        missing = [
            _missing(item, profile)
            for item in dict.fromkeys(campaign.required_items)
            if not profile.holds(item)
        ]
        have = "missing " + ", ".join(missing)
        return failed("has.items", want, have, f"all of {want}, {have}")
    if not does_not_have_holds(campaign, profile):
        want = ", ".join(campaign.forbidden_items)
        held = [
            f"{item} x{profile.inventory[item]}"
            for item in dict.fromkeys(campaign.forbidden_items)
            if profile.holds(item)
        ]
        have = "holds " + ", ".join(held)
        return failed("does_not_have.items", want, have, f"none of {want}, {have}")
    if campaign.where is not None:
        failure = campaign.where.explain(target.document, target.context, now)
        if failure is not None:
            return _where_failed(campaign, failure)

    found = experiment_finding(campaign, decision, profile.player_id, groups)
    if found.failed:
        return replace(
            verdict(Outcome.NOT_MATCHED, found.matcher, found.expected, found.actual, found.reason),
            rollout_bucket=found.rollout_bucket,
        )
    return replace(
        verdict(Outcome.MATCHED, "", "", "", "all matchers hold"),
        rollout_bucket=found.rollout_bucket,
        variant=found.variant,
        variant_bucket=found.variant_bucket,
    )


def _where_failed(campaign: Campaign, failure: ClauseFailure) -> Explanation:
    """`where: segment lapsed: last_session $lt {"$ago": "14d"} = ...: found missing`."""
    within = "".join(f"segment {name}: " for name in failure.segment_chain)
    return Explanation(
        game=campaign.game,
        campaign=campaign.name,
        outcome=Outcome.NOT_MATCHED,
        matcher="where",
        expected=f"{failure.path} {failure.operator} {failure.wanted}",
        actual=failure.found,
        reason=(
            f"where: {within}{failure.path} {failure.operator} {failure.wanted}"
            f" failed: found {failure.found} ({failure.clause})"
        ),
        clause=failure,
    )


def _missing(item: str, profile: Profile) -> str:
    # A listed quantity of 0 (or less) is "not held" by the brief; saying so explains why
    # an item the operator can see in the profile still counts as missing.
    if item in profile.inventory:
        return f"{item} (quantity {profile.inventory[item]})"
    return item
