"""Experiment fields and groups written back in the catalog file's format, which
experiment_validation and group_validation read back to the same values."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from services.domain.campaign import Campaign
from services.domain.experiment import PER_PERCENT, Group
from services.domain.schedule import format_duration


def experiment_fields(c: Campaign) -> dict[str, Any]:
    """The campaign's experiment fields that are set, in the catalog's key order."""
    doc: dict[str, Any] = {}
    if c.rollout is not None:
        doc["rollout"] = {"percent": percent_value(c.rollout.threshold)}
        if c.rollout.salt:
            doc["rollout"]["salt"] = c.rollout.salt
    if c.variants:
        doc["variants"] = [
            {"name": v.name, "weight": v.weight}
            | ({} if v.payload is None else {"payload": dict(v.payload)})
            for v in c.variants
        ]
    if c.payload is not None:
        doc["payload"] = dict(c.payload)
    if c.group:
        doc["group"] = c.group
    if c.schedule is not None:
        doc["schedule"] = {
            "cron": c.schedule.cron,
            "duration": format_duration(c.schedule.duration),
            "timezone": c.schedule.timezone,
        }
    return doc


def groups_document(groups: Iterable[Group]) -> dict[str, Any]:
    """`{"popup": {"max_active": 1, "holdout_percent": 5}}`, unset fields left out."""
    doc: dict[str, Any] = {}
    for group in groups:
        fields: dict[str, Any] = {}
        if group.max_active:
            fields["max_active"] = group.max_active
        if group.holdout_threshold:
            fields["holdout_percent"] = percent_value(group.holdout_threshold)
        doc[group.name] = fields
    return doc


def percent_value(threshold: int) -> int | float:
    """Thousandths of a percent as the catalog writes a percentage: 25000 -> 25, 25500 -> 25.5."""
    whole, rest = divmod(threshold, PER_PERCENT)
    return whole if not rest else threshold / PER_PERCENT
