"""The experiment rules (services.matching.experiments) on the compiled engine's bitmasks.

`ExperimentStage` is built once per index from its campaigns in bit order. A request
whose matched campaigns include none with a rollout or a group skips it with one AND;
otherwise it visits only those campaigns, from the highest bit (the first in answer
order) down, so its cost follows the player's matches, not the catalog. Assignments
are prepared per campaign: those without variants are one shared object, the others
cost one hash.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from itertools import accumulate

import mmh3

from services.domain.campaign import Campaign
from services.domain.experiment import BUCKETS, Group
from services.matching.bucketing import holdout_salt, rollout_salt, variant_salt
from services.matching.experiments import Assignment

# Per experimental campaign: (rollout salt or None, rollout threshold, group number or -1).
_Entry = tuple[str | None, int, int]
# Per group: (holdout salt or None, holdout threshold, max_active or 0 for no limit).
_GroupRule = tuple[str | None, int, int]
# Per campaign with variants: (salt, total weight, cumulative weights, one assignment per
# variant). Assignments are made once, so that every request shares the same objects.
_Split = tuple[str, int, tuple[int, ...], tuple[Assignment, ...]]


class ExperimentStage:
    __slots__ = ("_entries", "_fixed", "_groups", "_splits", "mask")

    def __init__(self, ordered: Sequence[Campaign], groups: Mapping[str, Group]) -> None:
        size = len(ordered)
        entries: list[_Entry | None] = [None] * size
        fixed: list[Assignment | None] = [None] * size
        splits: dict[int, _Split] = {}
        numbers: dict[str, int] = {}
        rules: list[_GroupRule] = []
        mask = 0
        for rank, campaign in enumerate(ordered):
            position = size - 1 - rank
            group_number = -1
            if campaign.group:
                if campaign.group not in numbers:
                    numbers[campaign.group] = len(rules)
                    group = groups.get(campaign.group, Group(campaign.group))
                    salt = holdout_salt(group.name) if group.holdout_threshold else None
                    rules.append((salt, group.holdout_threshold, group.max_active))
                group_number = numbers[campaign.group]
            rollout = campaign.rollout
            if rollout is not None or group_number >= 0:
                mask |= 1 << position
                salt = None
                if rollout is not None:
                    salt = rollout.salt or rollout_salt(campaign.game, campaign.name)
                entries[position] = (
                    salt,
                    0 if rollout is None else rollout.threshold,
                    group_number,
                )
            total = sum(v.weight for v in campaign.variants)
            if total > 0:
                splits[position] = (
                    variant_salt(campaign.game, campaign.name),
                    total,
                    tuple(accumulate(v.weight for v in campaign.variants)),
                    tuple(
                        Assignment(campaign.game, campaign.name, v.name, v.payload)
                        for v in campaign.variants
                    ),
                )
            else:
                fixed[position] = Assignment(campaign.game, campaign.name, "", campaign.payload)
        self.mask = mask
        self._entries = entries
        self._groups = rules
        self._fixed = fixed
        self._splits = splits

    def apply(self, matched: int, player_id: str) -> int:
        """`matched` without the campaigns the player is not in the rollout of, held
        out of, or past their group's limit for."""
        pending = matched & self.mask
        entries = self._entries
        counts: list[int] | None = None
        held: list[bool | None] | None = None
        while pending:
            position = pending.bit_length() - 1
            bit = 1 << position
            pending ^= bit
            entry = entries[position]
            assert entry is not None
            salt, threshold, number = entry
            if (
                salt is not None
                and (mmh3.hash(salt + player_id, 0, signed=False) * BUCKETS) >> 32 >= threshold
            ):
                matched ^= bit
                continue
            if number < 0:
                continue
            if counts is None or held is None:
                counts = [0] * len(self._groups)
                held = [None] * len(self._groups)
            holdout, holdout_threshold, limit = self._groups[number]
            out = held[number]
            if out is None:
                out = (
                    holdout is not None
                    and (mmh3.hash(holdout + player_id, 0, signed=False) * BUCKETS) >> 32
                    < holdout_threshold
                )
                held[number] = out
            if out or (limit and counts[number] >= limit):
                matched ^= bit
                continue
            counts[number] += 1
        return matched

    def assignments(self, active: int, player_id: str) -> tuple[Assignment, ...]:
        """One assignment per campaign of `active`, highest bit (answer order) first."""
        fixed = self._fixed
        out: list[Assignment] = []
        while active:
            position = active.bit_length() - 1
            active ^= 1 << position
            assignment = fixed[position]
            out.append(assignment if assignment is not None else self._split(position, player_id))
        return tuple(out)

    def _split(self, position: int, player_id: str) -> Assignment:
        salt, total, bounds, assignments = self._splits[position]
        at = (mmh3.hash(salt + player_id, 0, signed=False) * total) >> 32
        for bound, assignment in zip(bounds, assignments, strict=True):
            if at < bound:
                return assignment
        raise AssertionError("a point below the total weight falls in some variant")


def games_sharing_groups(campaigns: Iterable[Campaign]) -> frozenset[str]:
    """The games with a campaign in a group that another game's campaign is in too."""
    games_of: dict[str, set[str]] = {}
    for campaign in campaigns:
        if campaign.group:
            games_of.setdefault(campaign.group, set()).add(campaign.game)
    return frozenset(game for games in games_of.values() if len(games) > 1 for game in games)
