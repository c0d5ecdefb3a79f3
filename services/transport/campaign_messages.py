"""Translation between campaign messages and domain campaigns (with their experiment
fields and the catalog's groups); nothing else.

Profiles have their own codec, `services.codecs.profile_message`, which the
embedded store shares.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import timedelta

from profilematcher.campaigns.v1 import campaign_pb2, experiment_pb2
from services.codecs.payload_struct import set_struct, struct_payload
from services.codecs.timestamps import (
    datetime_from_timestamp,
    set_timestamp,
    timestamp_from_datetime,
)
from services.domain.campaign import Campaign, LevelRange
from services.domain.conditions import Condition
from services.domain.experiment import PER_PERCENT, Group, Rollout, Variant
from services.domain.schedule import Schedule
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
    set_experiment_fields(msg, campaign)
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
    campaign = Campaign(
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
    return with_experiment(campaign, msg)


def set_experiment_fields(msg: campaign_pb2.Campaign, campaign: Campaign) -> None:
    if campaign.rollout is not None:
        msg.rollout.percent = campaign.rollout.threshold / PER_PERCENT
        msg.rollout.salt = campaign.rollout.salt
    for variant in campaign.variants:
        added = msg.variants.add(name=variant.name, weight=variant.weight)
        if variant.payload is not None:
            set_struct(added.payload, variant.payload)
    if campaign.payload is not None:
        set_struct(msg.payload, campaign.payload)
    msg.group = campaign.group
    if campaign.schedule is not None:
        msg.schedule.cron = campaign.schedule.cron
        msg.schedule.duration.FromTimedelta(campaign.schedule.duration)
        msg.schedule.timezone = campaign.schedule.timezone


def with_experiment(campaign: Campaign, msg: campaign_pb2.Campaign) -> Campaign:
    """`campaign` with the message's experiment fields (the campaign service
    validated them); a message without any gives `campaign` back as it is."""
    if not (
        msg.HasField("rollout")
        or msg.variants
        or msg.HasField("payload")
        or msg.group
        or msg.HasField("schedule")
    ):
        return campaign
    schedule = msg.schedule
    return replace(
        campaign,
        rollout=(
            Rollout(round(msg.rollout.percent * PER_PERCENT), msg.rollout.salt)
            if msg.HasField("rollout")
            else None
        ),
        variants=tuple(
            Variant(v.name, v.weight, struct_payload(v.payload) if v.HasField("payload") else None)
            for v in msg.variants
        ),
        payload=struct_payload(msg.payload) if msg.HasField("payload") else None,
        group=msg.group,
        schedule=(
            Schedule(
                schedule.cron,
                timedelta(
                    seconds=schedule.duration.seconds, microseconds=schedule.duration.nanos // 1000
                ),
                schedule.timezone,
            )
            if msg.HasField("schedule")
            else None
        ),
    )


def group_to_message(group: Group) -> experiment_pb2.Group:
    return experiment_pb2.Group(
        name=group.name,
        max_active=group.max_active,
        holdout_percent=group.holdout_threshold / PER_PERCENT,
    )


def group_from_message(msg: experiment_pb2.Group) -> Group:
    return Group(msg.name, msg.max_active, round(msg.holdout_percent * PER_PERCENT))
