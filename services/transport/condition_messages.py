"""Conditions as typed messages (condition.proto) and back; nothing else.

A Condition travels as the query document it was written as (`to_document`), each
part typed: clauses, operators, operands. The receiver rebuilds the document and
parses it again (`parse_condition`), so a condition a matcher uses has passed the same
checks as in the catalog file, and a message it cannot read (an operator it does not
know, an operand missing) is a ConditionError naming the clause, never a guess.

Times are normalized on the way: `{"$date": ...}` comes back in RFC 3339 form and
`{"$ago": ...}` in the largest unit that divides it (`336h` comes back `14d`), which
the condition reads the same.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from google.protobuf import duration_pb2, struct_pb2

from profilematcher.campaigns.v1 import condition_pb2 as pb
from services.codecs.timestamps import set_timestamp
from services.domain.conditions import (
    Condition,
    ConditionError,
    parse_condition,
    parse_segments,
)
from services.domain.timefmt import parse_timestamp

_LOGICAL: Final = {"$and": "all_of", "$or": "any_of", "$nor": "none_of"}
_LOGICAL_BACK: Final = {field: op for op, field in _LOGICAL.items()}
_OPERATORS: Final = {
    "$eq": pb.OPERATOR_EQ,
    "$ne": pb.OPERATOR_NE,
    "$gt": pb.OPERATOR_GT,
    "$gte": pb.OPERATOR_GTE,
    "$lt": pb.OPERATOR_LT,
    "$lte": pb.OPERATOR_LTE,
    "$in": pb.OPERATOR_IN,
    "$nin": pb.OPERATOR_NIN,
    "$exists": pb.OPERATOR_EXISTS,
    "$not": pb.OPERATOR_NOT,
    "$elemMatch": pb.OPERATOR_ELEM_MATCH,
    "$veq": pb.OPERATOR_VEQ,
    "$vne": pb.OPERATOR_VNE,
    "$vgt": pb.OPERATOR_VGT,
    "$vgte": pb.OPERATOR_VGTE,
    "$vlt": pb.OPERATOR_VLT,
    "$vlte": pb.OPERATOR_VLTE,
}
_OPERATOR_NAMES: Final = {number: name for name, number in _OPERATORS.items()}
_COMPARISONS: Final = frozenset({"$eq", "$ne", "$gt", "$gte", "$lt", "$lte"})
_VERSIONS: Final = frozenset({"$veq", "$vne", "$vgt", "$vgte", "$vlt", "$vlte"})
# The operand field each operator's test must set.
_OPERAND_OF: Final = {
    **dict.fromkeys(_COMPARISONS, "value"),
    **dict.fromkeys(_VERSIONS, "version"),
    "$in": "values",
    "$nin": "values",
    "$exists": "exists",
    "$not": "tests",
}
_UNITS: Final = (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1))
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def condition_to_message(condition: Condition) -> pb.Condition:
    return _document_message(condition.to_document())


def segments_to_messages(segments: Iterable[Condition]) -> list[pb.Segment]:
    return [
        pb.Segment(name=segment.name or "", condition=condition_to_message(segment))
        for segment in segments
    ]


def segments_from_messages(messages: Iterable[pb.Segment]) -> Mapping[str, Condition]:
    """The segments parsed, by name; ConditionError naming `segments.<name>...`."""
    documents: dict[str, object] = {}
    for message in messages:
        where = f"segments.{message.name}"
        documents[message.name] = condition_document(message.condition, where)
    return parse_segments(documents)


def condition_from_message(
    message: pb.Condition, segments: Mapping[str, Condition], where: str = "where"
) -> Condition:
    """The condition of `message`, checked as a catalog's; ConditionError names the clause."""
    return parse_condition(condition_document(message, where), segments=segments, where=where)


def condition_document(message: pb.Condition, where: str) -> dict[str, Any]:
    """The query document `message` carries, as a catalog would write it."""
    document: dict[str, Any] = {}
    for index, clause in enumerate(message.clauses):
        here = f"{where}.clauses[{index}]"
        kind = clause.WhichOneof("clause")
        if kind == "field":
            path = clause.field.path
            if path in document:
                raise ConditionError(here, f"path {path!r} appears twice")
            document[path] = _field_operand(clause.field, f"{where}.{path}")
        elif kind == "segment":
            _put(document, "$segment", clause.segment, here)
        elif kind in _LOGICAL_BACK:
            operator = _LOGICAL_BACK[kind]
            conditions = getattr(clause, kind).conditions
            _put(
                document,
                operator,
                [
                    condition_document(c, f"{where}.{operator}[{i}]")
                    for i, c in enumerate(conditions)
                ],
                here,
            )
        else:
            raise ConditionError(
                here, "a clause must be a field, all_of, any_of, none_of or segment"
            )
    return document


def _put(document: dict[str, Any], key: str, value: Any, here: str) -> None:
    if key in document:
        raise ConditionError(here, f"{key} appears twice")
    document[key] = value


def _document_message(document: Mapping[str, Any]) -> pb.Condition:
    message = pb.Condition()
    for key, operand in document.items():
        clause = message.clauses.add()
        if key in _LOGICAL:
            target = getattr(clause, _LOGICAL[key])
            target.SetInParent()
            target.conditions.extend(_document_message(child) for child in operand)
        elif key == "$segment":
            clause.segment = operand
        else:
            clause.field.path = key
            if _is_operator_document(operand):
                clause.field.operators.SetInParent()
                _set_tests(clause.field.operators, operand)
            else:
                _set_operand(clause.field.equals, operand)
    return message


def _set_tests(target: pb.FieldTestList, operators: Mapping[str, Any]) -> None:
    for name, operand in operators.items():
        test = target.tests.add(operator=_OPERATORS[name])
        if name in _COMPARISONS:
            _set_operand(test.value, operand)
        elif name in ("$in", "$nin"):
            test.values.SetInParent()
            for item in operand:
                _set_operand(test.values.items.add(), item)
        elif name == "$exists":
            test.exists = operand
        elif name in _VERSIONS:
            test.version = operand
        elif name == "$not" or _is_value_elem_match(operand):
            test.tests.SetInParent()
            _set_tests(test.tests, operand)
        else:
            test.query.CopyFrom(_document_message(operand))


def _set_operand(target: pb.Operand, value: Any) -> None:
    if value is None:
        target.null = struct_pb2.NULL_VALUE
    elif isinstance(value, bool):
        target.boolean = value
    elif isinstance(value, int):
        target.integer = value
    elif isinstance(value, float):
        target.number = value
    elif isinstance(value, str):
        target.text = value
    elif isinstance(value, list):
        target.array.SetInParent()
        for item in value:
            _set_operand(target.array.items.add(), item)
    elif _is_time(value, "$date"):
        set_timestamp(target.date, _written_date(value["$date"]))
    elif _is_time(value, "$ago"):
        target.ago.CopyFrom(_duration(value["$ago"]))
    else:
        target.object.SetInParent()
        for key, item in value.items():
            _set_operand(target.object.fields.add(key=key).value, item)


def _field_operand(field: pb.FieldCondition, where: str) -> Any:
    kind = field.WhichOneof("test")
    if kind == "equals":
        return _operand(field.equals, where)
    if kind == "operators":
        return _tests(field.operators, where)
    raise ConditionError(where, "a field condition needs `equals` or `operators`")


def _tests(tests: pb.FieldTestList, where: str) -> dict[str, Any]:
    if not tests.tests:
        raise ConditionError(where, "an operator document needs at least one operator")
    document: dict[str, Any] = {}
    for test in tests.tests:
        name = _OPERATOR_NAMES.get(test.operator)
        if name is None:
            raise ConditionError(where, f"unknown operator number {test.operator}")
        here = f"{where}.{name}"
        if name in document:
            raise ConditionError(here, "appears twice")
        document[name] = _test_operand(test, name, here)
    return document


def _test_operand(test: pb.FieldTest, name: str, here: str) -> Any:
    kind = test.WhichOneof("operand")
    expected = _OPERAND_OF.get(name)
    if name == "$elemMatch" and kind in ("tests", "query"):
        expected = kind
    if kind is None or kind != expected:
        wanted = expected or "tests or query"
        raise ConditionError(here, f"{name} takes `{wanted}`, got {kind or 'no operand'}")
    if kind == "value":
        return _operand(test.value, here)
    if kind == "values":
        return [_operand(item, f"{here}[{i}]") for i, item in enumerate(test.values.items)]
    if kind == "exists":
        return test.exists
    if kind == "version":
        return test.version
    if kind == "tests":
        return _tests(test.tests, here)
    return condition_document(test.query, here)


def _operand(operand: pb.Operand, where: str) -> Any:
    kind = operand.WhichOneof("kind")
    if kind == "null":
        return None
    if kind in ("boolean", "integer", "number", "text"):
        return getattr(operand, kind)
    if kind == "date":
        seconds, nanos = operand.date.seconds, operand.date.nanos
        try:
            when = _EPOCH + timedelta(seconds=seconds, microseconds=nanos // 1000)
        except OverflowError:
            raise ConditionError(where, "$date is out of range") from None
        return {"$date": when.isoformat().replace("+00:00", "Z")}
    if kind == "ago":
        return {"$ago": _ago_text(operand.ago, where)}
    if kind == "array":
        return [_operand(item, f"{where}[{i}]") for i, item in enumerate(operand.array.items)]
    if kind == "object":
        document: dict[str, Any] = {}
        for field in operand.object.fields:
            if field.key in document:
                raise ConditionError(f"{where}.{field.key}", "appears twice")
            document[field.key] = _operand(field.value, f"{where}.{field.key}")
        return document
    raise ConditionError(where, "an operand must hold a value")


def _ago_text(duration: duration_pb2.Duration, where: str) -> str:
    seconds = duration.seconds
    if seconds < 0 or duration.nanos:
        raise ConditionError(where, "$ago must be a whole, non-negative number of seconds")
    for unit, size in _UNITS:
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    raise AssertionError("one second divides every whole number of seconds")


def _duration(text: str) -> duration_pb2.Duration:
    # The condition accepted it, so it is `<digits><unit>`.
    return duration_pb2.Duration(seconds=int(text[:-1]) * dict(_UNITS)[text[-1]])


def _written_date(written: Any) -> datetime:
    # As the condition accepted it: a timestamp string or {"$numberLong": "<ms>"}.
    if isinstance(written, Mapping):
        return _EPOCH + timedelta(milliseconds=int(written["$numberLong"]))
    return parse_timestamp(written)


def _is_value_elem_match(operand: Mapping[str, Any]) -> bool:
    """`$elemMatch` over values (operators), not over objects (a query, which may start
    with `$and`, `$or` or `$nor`)."""
    return next(iter(operand)) not in _LOGICAL and _is_operator_document(operand)


def _is_time(value: Any, key: str) -> bool:
    return isinstance(value, Mapping) and len(value) == 1 and key in value


def _is_operator_document(value: Any) -> bool:
    """The parser's reading: an object whose first key is an operator, not a time."""
    if not isinstance(value, Mapping) or not value:
        return False
    if _is_time(value, "$date") or _is_time(value, "$ago"):
        return False
    first = next(iter(value))
    return isinstance(first, str) and first.startswith("$")
