"""Translation between campaign messages and domain campaigns; nothing else.

Profiles have their own codec, `services.codecs.profile_message`, which the
embedded store shares.
"""

from __future__ import annotations

from collections.abc import Mapping

from profilematcher.campaigns.v1 import campaign_pb2
from services.codecs.timestamps import (
    datetime_from_timestamp,
    set_timestamp,
    timestamp_from_datetime,
)
from services.domain.campaign import Campaign, LevelRange
from services.matching.conditions import Condition
from services.transport.condition_messages import condition_from_message, condition_to_message


def campaign_to_message(campaign: Campaign) -> campaign_pb2.Campaign:
    msg = campaign_pb2.Campaign(
        game=campaign.game,
        name=campaign.name,
        priority=campaign.priority,
        enabled=campaign.enabled,
        start_date=timestamp_from_datetime(campaign.start_date),
        end_date=timestamp_from_datetime(campaign.end_date),
    )
    if campaign.last_updated is not None:
        set_timestamp(msg.last_updated, campaign.last_updated)
    if campaign.level is not None:
        msg.matchers.level.min, msg.matchers.level.max = campaign.level.min, campaign.level.max
    if campaign.countries or campaign.required_items:
        msg.matchers.has.countries.extend(campaign.countries)
        msg.matchers.has.items.extend(campaign.required_items)
    if campaign.forbidden_items:
        msg.matchers.does_not_have.items.extend(campaign.forbidden_items)
    if campaign.where is not None:
        msg.where.CopyFrom(condition_to_message(campaign.where))
    return msg


def campaign_from_message(
    msg: campaign_pb2.Campaign, segments: Mapping[str, Condition] | None = None
) -> Campaign:
    """Campaigns come from our own campaign service, already validated there; `where`
    is parsed again (against `segments`, the response's), and ConditionError names
    its clause if it cannot be."""
    m = msg.matchers
    return Campaign(
        game=msg.game,
        name=msg.name,
        priority=msg.priority,
        enabled=msg.enabled,
        start_date=datetime_from_timestamp(msg.start_date, "start_date"),
        end_date=datetime_from_timestamp(msg.end_date, "end_date"),
        last_updated=(
            datetime_from_timestamp(msg.last_updated, "last_updated")
            if msg.HasField("last_updated")
            else None
        ),
        level=LevelRange(m.level.min, m.level.max) if m.HasField("level") else None,
        countries=tuple(m.has.countries),
        required_items=tuple(m.has.items),
        forbidden_items=tuple(m.does_not_have.items),
        where=(
            condition_from_message(msg.where, segments or {}, "matchers.where")
            if msg.HasField("where")
            else None
        ),
    )
