"""A catalog's segments: named conditions that campaigns' `where` (and other segments)
use by name, `{"$segment": "lapsed"}`.

Checked from the catalog object's `segments` section, every bad segment reported with
the file and the clause (`catalog.json: segments.lapsed.last_session.$lt.$ago: bad
duration '14x'...`); an unknown name or a cycle is a problem of the segment (or the
campaign) that names it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from services.campaigns.catalog_json import duplicate_keys
from services.domain.campaign import Campaign
from services.domain.conditions import (
    Condition,
    ConditionError,
    parse_condition,
    parse_segments,
)
from services.domain.json_values import kind_of

# What a campaign's `where` is parsed against: each segment as a Condition when it is
# valid, as its document when not (so that a campaign using it is told so, rather
# than that the segment does not exist).
SegmentDefinitions = Mapping[str, object]


def segments_from_value(
    value: object, source: str
) -> tuple[SegmentDefinitions, tuple[Condition, ...], list[str]]:
    """(definitions to parse campaigns against, the valid segments in name order, the
    problems found) for the catalog's `segments` value (None: no segments)."""
    if value is None:
        return {}, (), []
    if not isinstance(value, Mapping):
        problem = f"{source}: segments: must be an object of named conditions, got {kind_of(value)}"
        return {}, (), [problem]
    problems = [
        f"{source}: segments.{key}: is written more than once" for key in duplicate_keys(value)
    ]
    problems += [
        f"{source}: segments: a segment name must not be empty"
        for name in value
        if not name.strip()
    ]
    reported: dict[str, None] = dict.fromkeys(problems)
    if not problems:
        try:
            parsed = parse_segments(value)
        except ConditionError as exc:
            # The first problem; the loop below finds it again with every other one.
            reported[f"{source}: {exc}"] = None
        else:
            return parsed, tuple(parsed[name] for name in sorted(parsed)), []
    for name, definition in value.items():
        try:
            parse_condition(definition, segments=value, where=f"segments.{name}")
        except ConditionError as exc:
            reported[f"{source}: {exc}"] = None
    return value, (), list(reported)


def where_from_value(
    value: object, segments: SegmentDefinitions, field: str = "matchers.where"
) -> tuple[Condition | None, tuple[str, str] | None]:
    """(the condition, None) or (None, (field, problem)) for a campaign's `where`
    (None or absent: no condition)."""
    if value is None:
        return None, None
    try:
        return parse_condition(value, segments=segments, where=field), None
    except ConditionError as exc:
        if exc.clause.startswith("segments."):
            # The segment's own problem, reported with the segments.
            return None, (field, f"uses a segment that is not valid ({exc.clause})")
        return None, (exc.clause, exc.problem)


def segments_used_by(
    campaigns: Iterable[Campaign], segments: Iterable[Condition]
) -> tuple[Condition, ...]:
    """The segments among `segments` that the campaigns' conditions use, directly or
    through other segments, in the order given."""
    used: set[str] = set()
    for campaign in campaigns:
        if campaign.where is not None:
            used |= campaign.where.segments_used
    return tuple(segment for segment in segments if segment.name in used)


def segments_document(segments: Iterable[Condition]) -> dict[str, Any]:
    """The `segments` section of a catalog file (name -> condition as written)."""
    return {segment.name or "": segment.to_document() for segment in segments}
