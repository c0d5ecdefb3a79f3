"""The bitmask indexes of the compiled engine (compiled.py) over one set of campaigns.

Every campaign gets one bit of a Python int, numbered so that the highest bit is the first
campaign of the answer (priority desc, name, game). Each rule becomes a lookup that yields
the mask of campaigns it lets through, so one request costs a handful of bisects, dict
lookups and big-int ANDs, plus a few operations per held item and per matched campaign,
instead of a test per campaign. Reading the matched bits from the top gives the names
already in answer order.

How each rule is indexed:
- window and enabled: the catalog's start and end dates cut time into segments in which no
  campaign starts or ends, so the live set is constant inside one; it is precomputed per
  segment and found by bisecting `now` into the sorted boundaries.
- level: the same, over the level line (boundaries at `min` and `max + 1`), with the
  campaigns that have no level matcher folded into every segment.
- has.country: upper-cased code -> mask, with the campaigns without a country condition
  folded into every entry (and used alone for an unknown or unset country).
- does_not_have.items and has.items: each item maps to one wide int made of `size`-bit
  fields: field 0 holds the campaigns forbidding the item, field j >= 1 the campaigns whose
  j-th required item it is. ORing the entries of the held items gives, in one pass, the
  campaigns forbidding something held (field 0) and every required slot that is filled;
  a campaign lacks a required item when one of its slots stays empty. The cost follows
  the player's inventory, not the catalog's item vocabulary (which is far larger), and
  it is one OR per held item whatever the number of items a campaign requires. (The
  alternatives do more work per request: a bit-sliced counter of held required items
  per campaign needs several big-int operations per held item where this needs one OR,
  and ORing the masks of the required items the player does not hold loops over the
  whole vocabulary.)
- game: one index per game beside the index over the whole catalog, so a filtered request
  works on masks no wider than that game's campaigns. The whole catalog's index also keeps
  each game's mask, so that one match gives both a player's full list (what is stored)
  and one game's share of it (what a filtered client config answers). A game sharing a
  group with another is answered from the whole index: group limits count every game.
- where: the campaigns' conditions, a stage run only on the candidates the masks let
  through (where_stage.py: prefilters over many campaigns at once, then each one's
  compiled predicate over a lazy view of the profile).
- schedules: live intervals over a horizon around compile time (schedule_windows.py)
  are toggles in the time index; outside it scheduled campaigns are checked one by one.
- rollouts, group holdouts and limits: a post-stage on the mask that survived the
  matchers and `where` (compiled_experiments.py), skipped with one AND when no matched
  campaign has any.

A `CampaignIndex` is never modified after construction, so any number of threads can
share one.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from itertools import compress
from typing import Any, TypeVar

from services.domain.campaign import Campaign
from services.domain.conditions import Condition
from services.domain.experiment import Group
from services.domain.profile import Matchable, Profile
from services.domain.profile_view import ProfileView
from services.matching.compiled_experiments import ExperimentStage
from services.matching.experiments import Assignment
from services.matching.reference import rank_key
from services.matching.schedule_windows import ScheduleWindows, schedule_toggles, scheduled_live
from services.matching.where_stage import where_stage

K = TypeVar("K", datetime, int)

# Reading the matched names off a mask: peeling the top bit is a Python step per match,
# a pass over every campaign's flag is a C loop with a fixed setup, so the pass wins once
# the matches are more than a set share of the campaigns: from
# size // _DENSE_PER_MATCH + _DENSE_OVERHEAD matches on. Both constants come from timing
# the two paths against each other; time them again after changing either.
_DENSE_PER_MATCH = 12
_DENSE_OVERHEAD = 6


def _segments(toggles: Mapping[K, int]) -> tuple[tuple[K, ...], tuple[int, ...]]:
    """Sorted boundaries, and the mask in force in each segment between them.

    `toggles[b]` is the XOR of the bits that switch on or off at boundary b; segment j,
    found by `bisect_right(bounds, x)`, starts at bounds[j - 1], and segment 0 is
    everything before the first boundary, where nothing is on.
    """
    bounds = tuple(sorted(toggles))
    masks = [0]
    running = 0
    for bound in bounds:
        running ^= toggles[bound]
        masks.append(running)
    return bounds, tuple(masks)


class CampaignIndex:
    """Bitmask indexes over one group of campaigns (the whole catalog, or one game's)."""

    __slots__ = (
        "_bits_format",
        "_country",
        "_dense_from",
        "_direct",
        "_experimental",
        "_field",
        "_game_masks",
        "_item_conditioned",
        "_item_fields",
        "_level_bounds",
        "_level_masks",
        "_live",
        "_names_by_bit",
        "_names_in_order",
        "_need",
        "_no_country",
        "_no_level",
        "_scheduled",
        "_size",
        "_stage",
        "_time_bounds",
        "_where",
        "_windows",
    )

    def __init__(
        self,
        campaigns: Iterable[Campaign],
        groups: Mapping[str, Group] | None = None,
        windows: ScheduleWindows | None = None,
        segments: Mapping[str, Condition] | None = None,
    ) -> None:
        # sorted() is stable: campaigns equal on every key keep their catalog order, as in
        # the reference engine.
        ordered = sorted(campaigns, key=rank_key)
        size = len(ordered)
        self._size = size
        self._names_in_order = tuple(c.name for c in ordered)
        self._names_by_bit = tuple(reversed(self._names_in_order))
        self._field = (1 << size) - 1
        self._bits_format = f"0{size}b"
        self._dense_from = size // _DENSE_PER_MATCH + _DENSE_OVERHEAD

        time_toggles: dict[datetime, int] = {}
        level_toggles: dict[int, int] = {}
        no_level = 0
        no_country = 0
        by_country: dict[str, int] = {}
        forbidding: dict[str, int] = {}
        # Item -> one wide int of `size`-bit fields: field 0 has the campaigns forbidding
        # the item, field j >= 1 those whose j-th required item it is.
        item_fields: dict[str, int] = {}
        need = 0  # the same layout: field j has the campaigns with j or more required items
        require_any = 0
        game_masks: dict[str, int] = {}

        for rank, campaign in enumerate(ordered):
            bit = 1 << (size - 1 - rank)
            game_masks[campaign.game] = game_masks.get(campaign.game, 0) | bit
            # An empty window (start >= end) is never live; leaving it out of the sweep
            # keeps every campaign's on-toggle before its off-toggle.
            if (
                campaign.schedule is None
                and campaign.enabled
                and campaign.start_date < campaign.end_date
            ):
                time_toggles[campaign.start_date] = time_toggles.get(campaign.start_date, 0) ^ bit
                time_toggles[campaign.end_date] = time_toggles.get(campaign.end_date, 0) ^ bit

            if campaign.level is None:
                no_level |= bit
            elif campaign.level.min <= campaign.level.max:
                low, past = campaign.level.min, campaign.level.max + 1
                level_toggles[low] = level_toggles.get(low, 0) ^ bit
                level_toggles[past] = level_toggles.get(past, 0) ^ bit

            if campaign.countries:
                for code in {country.upper() for country in campaign.countries}:
                    by_country[code] = by_country.get(code, 0) | bit
            else:
                no_country |= bit

            for item in set(campaign.forbidden_items):
                forbidding[item] = forbidding.get(item, 0) | bit
            # Slot j of a campaign is its j-th distinct required item.
            for slot, item in enumerate(dict.fromkeys(campaign.required_items), start=1):
                item_fields[item] = item_fields.get(item, 0) | bit << (slot * size)
                need |= bit << (slot * size)
                require_any |= bit

        self._game_masks, self._where = game_masks, where_stage(ordered, size, segments or {})
        self._time_bounds, self._live = _segments(
            self._add_experiments(ordered, groups or {}, windows, time_toggles)
        )
        self._level_bounds, level_masks = _segments(level_toggles)
        self._level_masks = tuple(mask | no_level for mask in level_masks)
        self._no_level = no_level
        self._country = {code: mask | no_country for code, mask in by_country.items()}
        self._no_country = no_country

        forbid_any = 0
        for item, mask in forbidding.items():
            item_fields[item] = item_fields.get(item, 0) | mask
            forbid_any |= mask
        self._item_fields = item_fields
        self._need = need
        self._item_conditioned = forbid_any | require_any

    def _add_experiments(
        self,
        ordered: Sequence[Campaign],
        groups: Mapping[str, Group],
        windows: ScheduleWindows | None,
        time_toggles: dict[datetime, int],
    ) -> dict[datetime, int]:
        """Sets up the schedules and the experiment stage; returns `time_toggles` with
        the scheduled campaigns' intervals added."""
        self._windows = windows
        self._scheduled, self._direct = schedule_toggles(ordered, windows, time_toggles)
        self._stage = ExperimentStage(ordered, groups)
        self._experimental = self._stage.mask
        return time_toggles

    def match(self, profile: Matchable, now: datetime, where: WhereInput) -> tuple[str, ...]:
        return self._names(self._matched(profile, now, where))

    def match_with_game(
        self, profile: Matchable, now: datetime, game: str, where: WhereInput
    ) -> tuple[tuple[str, ...], tuple[str, ...]]:
        matched = self._matched(profile, now, where)
        return self._names(matched), self._names(matched & self._game_masks.get(game, 0))

    def evaluate(
        self, profile: Matchable, now: datetime, game: str | None, where: WhereInput
    ) -> tuple[tuple[str, ...], tuple[str, ...], tuple[Assignment, ...]]:
        """CompiledCatalog.evaluate, from one match."""
        matched = self._matched(profile, now, where)
        answer = matched & self._game_masks.get(game, 0) if game else matched
        full = self._names(matched)
        return (
            full,
            full if answer == matched else self._names(answer),
            self._stage.assignments(answer, profile.player_id) if answer else (),
        )

    def _matched(self, profile: Matchable, now: datetime, where: WhereInput) -> int:
        """The mask of the campaigns matching `profile` at `now`: the matchers, then
        `where` on their survivors, then the experiments on what matched."""
        candidates = self._live[bisect_right(self._time_bounds, now)]
        if self._scheduled:
            candidates |= scheduled_live(self._windows, self._scheduled, self._direct, now)
        if not candidates:
            return 0

        level = profile.level
        candidates &= (
            self._no_level
            if level is None
            else self._level_masks[bisect_right(self._level_bounds, level)]
        )
        if not candidates:
            return 0

        country = profile.country
        candidates &= (
            self._no_country
            if country is None
            else self._country.get(country.upper(), self._no_country)
        )
        if not candidates:
            return 0

        if candidates & self._item_conditioned:
            candidates &= ~self._rejected_by_items(profile.inventory)
        stage = self._where
        if stage is not None and candidates & stage.mask:
            document, context = where
            candidates = stage.filter(candidates, _document_of(profile, document), context, now)
        if candidates & self._experimental:
            candidates = self._stage.apply(candidates, profile.player_id)
        return candidates

    def _rejected_by_items(self, inventory: Mapping[str, int]) -> int:
        """Campaigns that forbid a held item or require an item that is not held."""
        fields = self._item_fields
        seen = 0
        # Each key, then its value: the inventory served is a protobuf map, whose
        # items() is a generator written in Python, about twice the cost.
        for item in inventory:
            if inventory[item] > 0:
                seen |= fields.get(item, 0)
        size = self._size
        rejected = seen & self._field
        # Required slots that no held item filled, folded down to one bit per campaign.
        unmet = (self._need & ~seen) >> size
        while unmet:
            rejected |= unmet & self._field
            unmet >>= size
        return rejected

    def _names(self, matched: int) -> tuple[str, ...]:
        if not matched:
            return ()
        if matched.bit_count() >= self._dense_from:
            # format() writes the highest bit first, which is the first campaign in order.
            flags = format(matched, self._bits_format).encode("ascii").translate(_FLAG_BYTES)
            return tuple(compress(self._names_in_order, flags))
        names = self._names_by_bit
        out: list[str] = []
        append = out.append
        while matched:
            bit = matched.bit_length() - 1
            append(names[bit])
            matched ^= 1 << bit
        return tuple(out)


# What the where stage reads beside the Matchable: the profile as a document (None:
# made from the profile, which must then be a Profile) and the request's context.
WhereInput = tuple[Mapping[str, Any] | None, Mapping[str, Any]]


def _document_of(profile: Matchable, document: Mapping[str, Any] | None) -> Mapping[str, Any]:
    if document is not None:
        return document
    if isinstance(profile, Profile):
        return ProfileView(profile)
    raise TypeError("campaigns with `where` need the profile's document to match a record")


# b"0" -> 0 and b"1" -> 1, so the bytes of a binary string read as flags.
_FLAG_BYTES = bytes.maketrans(b"01", b"\x00\x01")
