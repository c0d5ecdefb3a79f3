"""Assignments as the matcher's API sends them.

A catalog has a fixed set of assignments (one per campaign, or per variant) and the
engine hands out the same objects on every request, so each is encoded once, cached
here, and a response takes its assignments as bytes in one parse (`MergeFromString`)
instead of building a message, and a google.protobuf.Struct, per assignment.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from profilematcher.matcher.v1 import assignment_pb2
from services.codecs.payload_struct import set_struct
from services.matching.experiments import Assignment

# Far more than a catalog's assignments; bounds what old catalog versions leave behind.
CACHE_LIMIT = 20_000


def assignment_to_message(assignment: Assignment) -> assignment_pb2.Assignment:
    msg = assignment_pb2.Assignment(
        game=assignment.game, campaign=assignment.campaign, variant=assignment.variant
    )
    if assignment.payload is not None:
        set_struct(msg.payload, assignment.payload)
    return msg


class AssignmentEncoder:
    """Encodes assignments as the entries of a repeated Assignment field of a response.

    Safe to share between threads: a cache miss encodes twice at worst."""

    def __init__(self, limit: int = CACHE_LIMIT) -> None:
        self._limit = limit
        self._encoded: dict[Assignment, bytes] = {}
        # The same cache by identity, which costs no hash of the assignment's fields:
        # the compiled engine hands out the same objects on every request. Each entry
        # holds its assignment, so no other object can take its id while it is here.
        self._by_identity: dict[int, tuple[Assignment, bytes]] = {}

    def field(self, number: int, assignments: Sequence[Assignment]) -> bytes:
        """The wire bytes of `assignments` as repeated field `number`: for each, the
        field's tag (wire type 2, length-delimited), the length and the message."""
        if not assignments:
            return b""
        by_identity = self._by_identity
        entries = []
        for assignment in assignments:
            known = by_identity.get(id(assignment))
            if known is not None and known[0] is assignment:
                entries.append(known[1])
            else:
                entries.append(self._entry(assignment))
        tag = _tag(number)
        return tag + tag.join(entries)

    def _entry(self, assignment: Assignment) -> bytes:
        """`assignment`'s length and message, from the cache by value (a dry run's
        engine makes new objects equal to the compiled engine's) or encoded now."""
        encoded = self._encoded.get(assignment)
        if encoded is None:
            body = assignment_to_message(assignment).SerializeToString()
            encoded = _varint(len(body)) + body
        if len(self._encoded) >= self._limit or len(self._by_identity) >= self._limit:
            self._encoded.clear()
            self._by_identity.clear()
        self._encoded[assignment] = encoded
        self._by_identity[id(assignment)] = (assignment, encoded)
        return encoded


@functools.cache
def _tag(number: int) -> bytes:
    """The tag of field `number` as wire type 2 (length-delimited): a response type
    has one assignments field, so this is worked out once per type."""
    return _varint(number << 3 | 2)


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)
