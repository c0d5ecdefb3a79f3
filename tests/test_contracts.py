"""The users' JSON formats travel through the protobuf contracts with nothing lost."""

from __future__ import annotations

import json
from typing import Any

import pytest
from google.protobuf import json_format

from profilematcher.profiles.v1 import profile_pb2
from services.codecs.profile_message import profile_from_message, profile_to_message
from services.domain.errors import InvalidInput
from services.domain.profile_json import (
    document_to_json,
    profile_from_document,
    profile_to_document,
)


def through_message(doc: dict[str, Any]) -> dict[str, Any]:
    """JSON document -> Profile message -> wire bytes -> Profile message -> JSON document."""
    message = profile_to_message(profile_from_document(doc))
    wire = profile_pb2.Profile.FromString(message.SerializeToString())
    result: dict[str, Any] = json.loads(
        document_to_json(profile_to_document(profile_from_message(wire)))
    )
    return result


def test_sample_profile_round_trips_through_the_message(sample_profile_doc: dict[str, Any]) -> None:
    assert through_message(sample_profile_doc) == sample_profile_doc


def test_custom_fields_and_timestamps_survive(sample_profile_doc: dict[str, Any]) -> None:
    doc = {
        **sample_profile_doc,
        "created": "2021-01-10T13:37:17.250+02:00",  # RFC 3339 with offset and fraction
        "_nested": {"a": [1, 2.5, "x", None, True], "b": {"c": "d"}, "e": {}, "f": []},
        "_empty": {},
        "_flag": False,
    }
    result = through_message(doc)
    assert result["created"] == "2021-01-10 11:37:17.25Z"
    assert result["_nested"] == doc["_nested"]
    assert result["_empty"] == {}
    assert result["_flag"] is False
    assert result["_customfield"] == "mycustom"


def test_sample_profile_is_readable_as_protobuf_json(sample_profile_doc: dict[str, Any]) -> None:
    # What grpcurl shows: the standard protobuf JSON mapping of the same message.
    shown = json_format.MessageToDict(profile_to_message(profile_from_document(sample_profile_doc)))
    assert shown["playerId"] == sample_profile_doc["player_id"]
    assert shown["created"] == "2021-01-10T13:37:17Z"
    assert shown["customFields"] == {"_customfield": "mycustom"}
    assert shown["inventory"]["item_1"] == "1"  # int64 is a string in protobuf JSON


def test_unset_scalars_stay_unset_and_collections_come_back_empty() -> None:
    result = through_message({"player_id": "p1"})
    assert result == {"player_id": "p1", "active_campaigns": [], "inventory": {}}


def test_unknown_field_is_rejected_by_name(sample_profile_doc: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput, match="nickname: unknown field") as info:
        profile_from_document({**sample_profile_doc, "nickname": "bob"})
    assert info.value.field == "nickname"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"player_id": ""}, "player_id"),
        ({"player_id": "x" * 129}, "player_id"),
        ({"level": "3"}, "level"),
        ({"level": True}, "level"),
        ({"level": 2.5}, "level"),
        ({"total_spent": "400"}, "total_spent"),
        ({"created": "yesterday"}, "created"),
        ({"created": "2021-01-10 13:37:17"}, "created"),  # no zone: refused, not guessed
        ({"inventory": {"item_1": -1}}, "inventory.item_1"),
        ({"devices": [{"model": "x"}]}, "devices[0].id"),
        ({"clan": {"id": "1", "motto": "x"}}, "clan.motto"),
        ({"_id": 1}, "_id"),
        ({"_a.b": 1}, "_a.b"),
    ],
)
def test_bad_values_are_rejected_naming_the_field(
    sample_profile_doc: dict[str, Any], change: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInput) as info:
        profile_from_document({**sample_profile_doc, **change})
    assert info.value.field == field


def test_custom_field_names_from_messages_are_checked() -> None:
    message = profile_pb2.Profile(player_id="p1")
    message.custom_fields["$where"].string_value = "x"
    with pytest.raises(InvalidInput, match=r"profile\.\$where: custom field names start with '_'"):
        profile_from_message(message)


@pytest.mark.parametrize("key", ["player_id", "level", "inventory", "nickname"])
def test_custom_fields_cannot_shadow_or_add_real_fields(key: str) -> None:
    message = profile_pb2.Profile(player_id="alice", level=1)
    message.custom_fields[key].number_value = 99
    with pytest.raises(InvalidInput) as info:
        profile_from_message(message)
    assert info.value.field == f"profile.{key}"


@pytest.mark.parametrize(
    ("value", "field"),
    [
        (2**63, "_big"),
        ({"a\u0000b": 1}, "_big"),
        ([1, {"x": -(2**64)}], "_big[1].x"),
    ],
)
def test_custom_values_every_store_can_hold(value: object, field: str) -> None:
    with pytest.raises(InvalidInput) as info:
        profile_from_document({"player_id": "p", "_big": value})
    assert info.value.field == field
