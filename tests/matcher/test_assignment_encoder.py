"""Assignments encoded once and merged as bytes give the messages built field by field."""

from __future__ import annotations

from profilematcher.matcher.v1 import matcher_service_pb2 as pb
from services.matcher.assignment_messages import AssignmentEncoder, assignment_to_message
from services.matching.experiments import Assignment

ASSIGNMENTS = [
    Assignment("mygame", "starter_pack", "control", {"price": 4.99, "tags": ["a", "b"]}),
    Assignment("mygame", "plain"),
    # Longer than 127 bytes: the length takes two varint bytes.
    Assignment("g", "big", "", {"text": "x" * 300, "nested": {"deep": [1, 2, {"n": None}]}}),
    Assignment("g", "empty_payload", "", {}),
]


def test_merged_bytes_equal_the_built_messages() -> None:
    encoder = AssignmentEncoder()
    built = pb.GetClientConfigResponse(assignments=[assignment_to_message(a) for a in ASSIGNMENTS])
    merged = pb.GetClientConfigResponse()
    merged.MergeFromString(encoder.field(2, ASSIGNMENTS))
    assert merged == built
    # Twice: the second time from the cache.
    again = pb.MatchProfileResponse()
    again.MergeFromString(encoder.field(4, ASSIGNMENTS))
    assert list(again.assignments) == list(built.assignments)
    assert again.assignments[3].HasField("payload")
    assert not again.assignments[1].HasField("payload")


def test_batch_results_take_them_on_their_own_field() -> None:
    result = pb.ClientConfigResult(player_id="p")
    result.MergeFromString(AssignmentEncoder().field(4, ASSIGNMENTS[:2]))
    assert [a.campaign for a in result.assignments] == ["starter_pack", "plain"]
    assert result.player_id == "p"


def test_the_cache_is_bounded() -> None:
    encoder = AssignmentEncoder(limit=2)
    for i in range(10):
        assert encoder.field(2, [Assignment("g", f"c{i}")])
    assert len(encoder._encoded) <= 2
    assert encoder.field(2, []) == b""


def test_equal_and_distinct_objects_each_get_their_own_bytes() -> None:
    encoder = AssignmentEncoder(limit=3)
    for i in range(20):
        # New objects every time, some equal to earlier ones: the answer is always
        # the assignment's own encoding, whatever the cache holds or dropped.
        assignment = Assignment("g", f"c{i % 4}", "", {"n": i % 4})
        merged = pb.GetClientConfigResponse()
        merged.MergeFromString(encoder.field(2, [assignment]))
        assert list(merged.assignments) == [assignment_to_message(assignment)]
    assert len(encoder._encoded) <= 3
    assert len(encoder._by_identity) <= 3
