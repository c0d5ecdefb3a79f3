"""A draft campaign (EstimateAudience's `draft`) as a domain Campaign, checked as the
catalog's campaigns are, each problem named by its field or clause (`draft.end_date`,
`draft.matchers.level`, `draft.where.level.$gte`).

A draft needs only what its audience and its liveness depend on: its window, `enabled`
and its conditions; game, name and priority may be left out. Its `where` may use the
catalog's segments and the request's own (which replace the catalog's of the same name).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp

from profilematcher.campaigns.v1 import campaign_pb2, condition_pb2
from services.codecs.timestamps import datetime_from_timestamp
from services.domain.campaign import Campaign, Catalog, LevelRange
from services.domain.conditions import Condition, ConditionError, parse_condition
from services.domain.errors import InvalidInput
from services.domain.timefmt import format_timestamp
from services.transport.condition_messages import condition_document

DRAFT = "draft"


def draft_campaign(
    msg: campaign_pb2.Campaign, catalog: Catalog, segments: Iterable[condition_pb2.Segment]
) -> Campaign:
    """The draft `msg` as a Campaign; InvalidInput naming the first problem."""
    start = _time(msg.start_date if msg.HasField("start_date") else None, "start_date")
    end = _time(msg.end_date if msg.HasField("end_date") else None, "end_date")
    if end <= start:
        raise InvalidInput(
            f"{DRAFT}.end_date",
            f"{format_timestamp(end)} is not after start_date {format_timestamp(start)}",
        )
    matchers = msg.matchers
    level = None
    if matchers.HasField("level"):
        low, high = matchers.level.min, matchers.level.max
        if low < 0 or high < 0:
            raise InvalidInput(f"{DRAFT}.matchers.level", "min and max must not be negative")
        if low > high:
            raise InvalidInput(f"{DRAFT}.matchers.level", f"min {low} is greater than max {high}")
        level = LevelRange(low, high)
    countries = _names(matchers.has.countries, "matchers.has.countries")
    required = _names(matchers.has.items, "matchers.has.items")
    forbidden = _names(matchers.does_not_have.items, "matchers.does_not_have.items")
    where = _where(msg, catalog, segments) if msg.HasField("where") else None
    return Campaign(
        game=msg.game,
        name=msg.name,
        priority=msg.priority,
        start_date=start,
        end_date=end,
        enabled=msg.enabled,
        level=level,
        countries=countries,
        required_items=required,
        forbidden_items=forbidden,
        where=where,
    )


def _time(value: Timestamp | None, field: str) -> datetime:
    if value is None:
        raise InvalidInput(f"{DRAFT}.{field}", "is required")
    return datetime_from_timestamp(value, f"{DRAFT}.{field}")


def _names(values: Iterable[str], field: str) -> tuple[str, ...]:
    names = tuple(values)
    for index, name in enumerate(names):
        if not name.strip():
            raise InvalidInput(f"{DRAFT}.{field}[{index}]", "must not be empty")
    return names


def _where(
    msg: campaign_pb2.Campaign, catalog: Catalog, segments: Iterable[condition_pb2.Segment]
) -> Condition:
    definitions: dict[str, object] = {s.name: s for s in catalog.segments if s.name}
    try:
        for index, segment in enumerate(segments):
            if not segment.name:
                raise ConditionError(f"segments[{index}].name", "a segment needs a name")
            where = f"segments.{segment.name}"
            definitions[segment.name] = condition_document(segment.condition, where)
        document = condition_document(msg.where, f"{DRAFT}.where")
        return parse_condition(document, segments=definitions, where=f"{DRAFT}.where")
    except ConditionError as exc:
        raise InvalidInput(exc.clause, exc.problem) from None
