"""The profile's fields are declared once (the Profile dataclass); the message codec
checks profile.proto against that table, so the two cannot drift apart unnoticed."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, struct_pb2, timestamp_pb2
from google.protobuf.descriptor import Descriptor

from profilematcher.profiles.v1 import profile_pb2
from services.codecs.profile_message import check_descriptor
from services.domain.profile_fields import KNOWN_FIELDS, FieldKind, names_of

FieldProto = descriptor_pb2.FieldDescriptorProto


def variant(change: Callable[[descriptor_pb2.DescriptorProto], None]) -> Descriptor:
    """profile.proto's Profile with `change` made to it, built in a pool of its own."""
    pool = descriptor_pool.DescriptorPool()
    for dependency in (struct_pb2, timestamp_pb2):
        file = descriptor_pb2.FileDescriptorProto()
        dependency.DESCRIPTOR.CopyToProto(file)
        pool.Add(file)
    file = descriptor_pb2.FileDescriptorProto()
    profile_pb2.DESCRIPTOR.CopyToProto(file)
    (message,) = [m for m in file.message_type if m.name == "Profile"]
    change(message)
    pool.Add(file)
    return pool.FindMessageTypeByName("profilematcher.profiles.v1.Profile")


def test_profile_proto_matches_the_field_table() -> None:
    assert check_descriptor(profile_pb2.Profile.DESCRIPTOR) == []
    assert KNOWN_FIELDS[0] == "player_id"
    assert names_of(FieldKind.TIME) == (
        "created",
        "modified",
        "last_session",
        "last_purchase",
        "birthdate",
    )


def test_a_field_only_in_the_proto_is_named() -> None:
    def add_mood(message: descriptor_pb2.DescriptorProto) -> None:
        message.field.add(
            name="mood", number=22, type=FieldProto.TYPE_STRING, label=FieldProto.LABEL_OPTIONAL
        )

    assert check_descriptor(variant(add_mood)) == [
        "mood: in profile.proto but not a Profile attribute"
    ]


def test_a_field_missing_from_the_proto_is_named() -> None:
    def drop_clan(message: descriptor_pb2.DescriptorProto) -> None:
        (clan,) = [f for f in message.field if f.name == "clan"]
        message.field.remove(clan)

    assert check_descriptor(variant(drop_clan)) == [
        "clan: a Profile attribute but not in profile.proto"
    ]


@pytest.mark.parametrize(
    ("name", "proto_type", "kind"),
    [
        ("level", FieldProto.TYPE_INT32, "a whole number"),
        ("country", FieldProto.TYPE_BYTES, "text"),
        ("total_spent", FieldProto.TYPE_FLOAT, "a number"),
    ],
)
def test_a_field_of_another_kind_is_named(name: str, proto_type: int, kind: str) -> None:
    def retype(message: descriptor_pb2.DescriptorProto) -> None:
        (field,) = [f for f in message.field if f.name == name]
        field.type = proto_type  # type: ignore[assignment]

    assert check_descriptor(variant(retype)) == [f"{name}: does not hold {kind} as Profile does"]
