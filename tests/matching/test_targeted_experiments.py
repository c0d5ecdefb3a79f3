"""Targeting and experiments together: `where` is decided with the matchers, before
the experiments, so a campaign whose condition fails takes no place in its group; both
engines, the served record and the explanations agree on it."""

from __future__ import annotations

from typing import Any

import pytest

from services.codecs.profile_message import profile_to_message, serving_record
from services.codecs.profile_view import MessageView
from services.domain.campaign import Catalog
from services.domain.conditions import parse_condition
from services.domain.experiment import Group, Rollout, Variant
from services.domain.profile import Profile
from services.matching import CompiledCatalog, Outcome, explain, match_reference
from tests.matching.helpers import NOW, campaign

POPUP = (Group("popup", max_active=1),)
PLAYER = Profile(player_id="player-7", level=5, total_spent=250)
# The first in answer order, but only for iOS; the second for everyone.
IOS_OFFER = campaign(
    "ios_offer",
    priority=9,
    group="popup",
    where=parse_condition({"context.platform": "ios", "total_spent": {"$gte": 100}}),
    variants=(Variant("a", 1, {"price": 1}), Variant("b", 1, {"price": 2})),
)
EVERYONE = campaign("everyone", priority=1, group="popup", payload={"discount": 10})
CATALOG = Catalog("v", (IOS_OFFER, EVERYONE), groups=POPUP)


@pytest.mark.parametrize(
    ("context", "want"),
    [
        ({"platform": "ios"}, ("ios_offer",)),
        ({"platform": "android"}, ("everyone",)),
        ({}, ("everyone",)),
    ],
)
def test_a_failing_where_leaves_the_group_slot_to_the_next(
    context: dict[str, Any], want: tuple[str, ...]
) -> None:
    compiled = CompiledCatalog(CATALOG, at=NOW)
    stored = profile_to_message(PLAYER)
    full, answer, assignments = compiled.evaluate(
        serving_record(stored), NOW, context=context, document=MessageView(stored)
    )
    assert full == answer == want
    assert [a.campaign for a in assignments] == list(want)
    assert compiled.match(PLAYER, NOW, context=context) == want
    assert match_reference(PLAYER, CATALOG.campaigns, NOW, None, context, groups=POPUP) == want


def test_explanations_name_where_first_then_the_group() -> None:
    android = explain(PLAYER, CATALOG.campaigns, NOW, None, {"platform": "android"}, groups=POPUP)
    ios = explain(PLAYER, CATALOG.campaigns, NOW, None, {"platform": "ios"}, groups=POPUP)

    assert [(e.campaign, e.outcome, e.matcher) for e in android] == [
        ("ios_offer", Outcome.NOT_MATCHED, "where"),
        ("everyone", Outcome.MATCHED, ""),
    ]
    assert android[0].clause is not None
    assert android[0].clause.path == "context.platform"
    assert [(e.campaign, e.outcome, e.matcher) for e in ios] == [
        ("ios_offer", Outcome.MATCHED, ""),
        ("everyone", Outcome.NOT_MATCHED, "group"),
    ]
    assert ios[0].variant in {"a", "b"}
    assert ios[0].variant_bucket is not None


def test_a_rollout_is_decided_after_where() -> None:
    # A rollout of 100% lets every player in: the answer is where's alone.
    rolled = campaign(
        "rolled",
        rollout=Rollout(100_000),
        where=parse_condition({"context.platform": "ios"}),
    )
    compiled = CompiledCatalog(Catalog("v", (rolled,)), at=NOW)
    assert compiled.match(PLAYER, NOW, context={"platform": "ios"}) == ("rolled",)
    assert compiled.match(PLAYER, NOW, context={"platform": "web"}) == ()
    (why,) = explain(PLAYER, [rolled], NOW, None, {"platform": "web"})
    assert (why.matcher, why.rollout_bucket) == ("where", None)
