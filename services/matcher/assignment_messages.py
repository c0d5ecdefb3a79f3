"""Assignments as the matcher's API sends them."""

from __future__ import annotations

from profilematcher.matcher.v1 import assignment_pb2
from services.matching.experiments import Assignment
from services.transport.payload_struct import set_struct


def assignment_to_message(assignment: Assignment) -> assignment_pb2.Assignment:
    msg = assignment_pb2.Assignment(
        game=assignment.game, campaign=assignment.campaign, variant=assignment.variant
    )
    if assignment.payload is not None:
        set_struct(msg.payload, assignment.payload)
    return msg
