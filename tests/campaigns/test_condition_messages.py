"""Conditions as typed messages (condition.proto): what a campaign service sends, a
matcher reads back to a condition with the same answers, and a message it cannot read
is refused with the clause named."""

from __future__ import annotations

from typing import Any

import pytest
from google.protobuf import duration_pb2
from hypothesis import HealthCheck, given, settings

from profilematcher.campaigns.v1 import condition_pb2 as pb
from services.domain.conditions import ConditionError, parse_condition
from services.transport.condition_messages import (
    condition_from_message,
    condition_to_message,
    segments_from_messages,
    segments_to_messages,
)
from tests.matching.conditions.helpers import NOW
from tests.matching.conditions.strategies import INSTANTS, contexts, corpus, queries
from tests.matching.where_strategies import SEGMENTS, STORE_WHERE, where

CORPUS = corpus(wide=True)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(queries(wide=True), contexts)
def test_a_condition_survives_the_wire(document: dict[str, Any], context: dict[str, Any]) -> None:
    condition = parse_condition(document)
    message = condition_to_message(condition)
    back = condition_from_message(pb.Condition.FromString(message.SerializeToString()), {})
    # Times come back normalized ($date in RFC 3339, $ago in its largest unit), and
    # then stay as they are.
    assert condition_to_message(back) == message
    for doc in CORPUS:
        for now in (NOW, INSTANTS[3]):
            assert back.evaluate(doc, context, now) == condition.evaluate(doc, context, now)


def test_segments_and_their_users_survive_the_wire() -> None:
    segments = segments_from_messages(segments_to_messages(SEGMENTS.values()))
    assert {name: s.to_document() for name, s in segments.items()} == {
        name: s.to_document() for name, s in SEGMENTS.items()
    }
    for document in STORE_WHERE:
        condition = where(document)
        back = condition_from_message(condition_to_message(condition), segments)
        assert back.to_document() == condition.to_document()


def test_the_message_is_typed() -> None:
    condition = parse_condition(
        {
            "total_transactions": {"$gte": 9007199254740993},
            "last_session": {"$lt": {"$ago": "336h"}},
            "_o": {"b": 1, "a": {"$date": "2022-01-25 00:00:00Z"}},
        }
    )
    message = condition_to_message(condition)
    spent, session, custom = (clause.field for clause in message.clauses)
    # Exact beyond a double's 53 bits.
    assert spent.operators.tests[0].value.integer == 9007199254740993
    assert spent.operators.tests[0].operator == pb.OPERATOR_GTE
    assert session.operators.tests[0].value.ago == duration_pb2.Duration(seconds=14 * 86_400)
    # Objects keep their field order (MongoDB compares objects field by field).
    assert [f.key for f in custom.equals.object.fields] == ["b", "a"]
    back = condition_from_message(message, {})
    assert back.to_document()["last_session"] == {"$lt": {"$ago": "14d"}}
    assert back.to_document()["_o"] == {"b": 1, "a": {"$date": "2022-01-25T00:00:00Z"}}


def _field(path: str, test: pb.FieldTest) -> pb.Condition:
    return pb.Condition(
        clauses=[
            pb.Clause(field=pb.FieldCondition(path=path, operators=pb.FieldTestList(tests=[test])))
        ]
    )


@pytest.mark.parametrize(
    ("message", "clause"),
    [
        (pb.Condition(clauses=[pb.Clause()]), "where.clauses[0]"),
        (_field("level", pb.FieldTest(operator=pb.OPERATOR_UNSPECIFIED)), "where.level"),
        (_field("level", pb.FieldTest(operator=pb.Operator.ValueType(99))), "where.level"),
        (_field("level", pb.FieldTest(operator=pb.OPERATOR_GT)), "where.level.$gt"),
        (
            _field("level", pb.FieldTest(operator=pb.OPERATOR_IN, exists=True)),
            "where.level.$in",
        ),
        (
            _field("level", pb.FieldTest(operator=pb.OPERATOR_GT, value=pb.Operand())),
            "where.level.$gt",
        ),
        (_field("nope", pb.FieldTest(operator=pb.OPERATOR_EXISTS, exists=True)), "where.nope"),
        (pb.Condition(clauses=[pb.Clause(segment="unknown")]), "where.$segment"),
    ],
)
def test_an_unreadable_message_names_the_clause(message: pb.Condition, clause: str) -> None:
    with pytest.raises(ConditionError) as info:
        condition_from_message(message, {})
    assert info.value.clause == clause, str(info.value)
