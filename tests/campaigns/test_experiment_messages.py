"""Experiments cross the wire unchanged: campaign fields, groups, payloads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from google.protobuf import struct_pb2
from hypothesis import given
from hypothesis import strategies as st

from services.codecs.payload_struct import set_struct, struct_payload
from services.domain.campaign import Campaign
from services.domain.experiment import Group, JSONObject, Rollout, Variant
from services.domain.schedule import Schedule
from services.matcher.assignment_messages import assignment_to_message
from services.matching.experiments import Assignment
from services.transport.campaign_messages import (
    campaign_from_message,
    campaign_to_message,
    group_from_message,
    group_to_message,
)

START = datetime(2026, 1, 1, tzinfo=UTC)


def plain(**fields: object) -> Campaign:
    return Campaign(
        game="mygame",
        name="starter_pack",
        priority=40,
        start_date=START,
        end_date=START + timedelta(days=365),
        enabled=True,
        **fields,  # type: ignore[arg-type]
    )


def test_every_experiment_field_round_trips() -> None:
    campaign = plain(
        rollout=Rollout(25_125, "spring"),
        variants=(
            Variant("control", 50, {"price": 4.99, "tiers": [1, 2], "new": True, "x": None}),
            Variant("cheaper", 0),
        ),
        group="popup",
        schedule=Schedule("0 18 * * FRI", timedelta(hours=54, seconds=1), "Europe/Paris"),
    )
    assert campaign_from_message(campaign_to_message(campaign)) == campaign
    with_payload = plain(payload={"discount": 20, "nested": {"a": [{"b": "c"}]}})
    assert campaign_from_message(campaign_to_message(with_payload)) == with_payload
    empty = plain(payload={}, variants=())
    assert campaign_from_message(campaign_to_message(empty)) == empty


def test_a_campaign_without_experiments_stays_as_it_was() -> None:
    message = campaign_to_message(plain())
    assert not message.HasField("rollout")
    assert not message.HasField("payload")
    assert not message.HasField("schedule")
    assert campaign_from_message(message) == plain()


@given(threshold=st.integers(0, 100_000), limit=st.integers(0, 2**31 - 1))
def test_groups_round_trip_every_threshold(threshold: int, limit: int) -> None:
    group = Group("popup", limit, threshold)
    assert group_from_message(group_to_message(group)) == group
    rolled = plain(rollout=Rollout(threshold))
    assert campaign_from_message(campaign_to_message(rolled)) == rolled


def test_payload_structs_keep_integers_and_empty_containers() -> None:
    payload: JSONObject = {"count": 3, "price": 2.5, "empty": {}, "none": [], "big": 2**53}
    message = assignment_to_message(Assignment("g", "c", "v", payload)).payload
    assert struct_payload(message) == payload
    again = struct_pb2.Struct()
    set_struct(again, payload)
    assert again == message


def test_an_assignment_without_payload_has_none() -> None:
    message = assignment_to_message(Assignment("g", "c"))
    assert (message.game, message.campaign, message.variant) == ("g", "c", "")
    assert not message.HasField("payload")
