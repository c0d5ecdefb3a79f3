"""A campaign document's experiment fields checked: rollout, variants, payload, group,
schedule. Problems go to the campaign's checker (campaign_validation), so they are
reported with the file, the campaign and the field like every other:

    catalog.json: campaign #1 'starter_pack': rollout.percent: must be between 0 and 100, got 120
    catalog.json: campaign #1 'starter_pack': variants: the weights are all zero
    catalog.json: campaign #1 'starter_pack': schedule.timezone: 'Europe/Pariss' is not ...
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from services.domain.experiment import (
    MAX_TOTAL_WEIGHT,
    PAYLOAD_MAX_BYTES,
    JSONObject,
    Rollout,
    Variant,
    percent_threshold,
)
from services.domain.json_values import kind_of
from services.domain.schedule import Schedule, check_cron, parse_duration, zone

EXPERIMENT_FIELDS = ("rollout", "variants", "payload", "group", "schedule")
ROLLOUT_FIELDS = ("percent", "salt")
VARIANT_FIELDS = ("name", "weight", "payload")
SCHEDULE_FIELDS = ("cron", "duration", "timezone")
DEFAULT_TIMEZONE = "UTC"
# Deeper than any settings object needs, and well inside protobuf's nesting limit for
# the google.protobuf.Struct that carries a payload.
PAYLOAD_MAX_DEPTH = 32
# Payload numbers travel as google.protobuf.Struct numbers, which are doubles: integers
# beyond 2**53 would arrive changed.
_EXACT_INTEGERS = 2**53


class Checker(Protocol):
    """What campaign_validation's checker offers the checks here."""

    def problem(self, field: str, problem: str) -> None: ...
    def keys(self, doc: Mapping[str, Any], allowed: tuple[str, ...], prefix: str) -> None: ...
    def string(self, value: object, field: str) -> str: ...
    def integer(self, value: object, field: str) -> int | None: ...
    def obj(self, value: object, field: str) -> Mapping[str, Any] | None: ...


@dataclass(frozen=True, slots=True)
class Experiment:
    """A campaign's experiment fields, as the Campaign takes them."""

    rollout: Rollout | None = None
    variants: tuple[Variant, ...] = ()
    payload: JSONObject | None = None
    group: str = ""
    schedule: Schedule | None = None


def experiment_from_document(check: Checker, doc: Mapping[str, Any]) -> Experiment:
    """The experiment fields of a campaign document; null means left out."""
    rollout = _rollout(check, doc.get("rollout"))
    variants = _variants(check, doc.get("variants"))
    payload = None
    if doc.get("payload") is not None:
        payload = payload_from_value(check, doc["payload"], "payload")
        if doc.get("variants") is not None:
            check.problem("payload", "a campaign with variants carries payloads in its variants")
    group = ""
    if doc.get("group") is not None:
        group = check.string(doc["group"], "group")
    return Experiment(rollout, variants, payload, group, _schedule(check, doc.get("schedule")))


def payload_from_value(check: Checker, value: object, field: str) -> JSONObject | None:
    """A payload: a JSON object of at most PAYLOAD_MAX_BYTES of compact JSON, finite
    numbers, integers within +-2**53, nested at most PAYLOAD_MAX_DEPTH levels."""
    if not isinstance(value, Mapping):
        check.problem(field, f"must be a JSON object, got {kind_of(value)}")
        return None
    problem = _payload_problem(value, field, 1)
    if problem is not None:
        check.problem(*problem)
        return None
    size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
    if size > PAYLOAD_MAX_BYTES:
        check.problem(
            field, f"is {size:,} bytes of JSON, more than the {PAYLOAD_MAX_BYTES:,} allowed"
        )
        return None
    return value


def percent(check: Checker, value: object, field: str) -> int | None:
    """A percentage (0 to 100, at most 3 decimals) as thousandths of a percent."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        check.problem(field, f"must be a number, got {kind_of(value)}")
        return None
    try:
        return percent_threshold(value)
    except ValueError as exc:
        check.problem(field, str(exc))
        return None


def _payload_problem(value: object, field: str, depth: int) -> tuple[str, str] | None:
    if isinstance(value, Mapping | list) and depth > PAYLOAD_MAX_DEPTH:
        return field, f"is nested more than {PAYLOAD_MAX_DEPTH} levels deep"
    if isinstance(value, Mapping):
        for key, item in value.items():
            if (found := _payload_problem(item, f"{field}.{key}", depth + 1)) is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if (found := _payload_problem(item, f"{field}[{index}]", depth + 1)) is not None:
                return found
    elif isinstance(value, float) and not math.isfinite(value):
        return field, f"must be a finite number, got {value}"
    elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > _EXACT_INTEGERS:
        return field, (
            f"integer {value} cannot travel exactly (payload numbers are doubles; "
            "at most 2**53 either way; write it as a string)"
        )
    return None


def _rollout(check: Checker, value: object) -> Rollout | None:
    if value is None:
        return None
    doc = check.obj(value, "rollout")
    if doc is None:
        return None
    check.keys(doc, ROLLOUT_FIELDS, "rollout")
    if "percent" not in doc:
        check.problem("rollout.percent", "is required")
        return None
    threshold = percent(check, doc["percent"], "rollout.percent")
    salt = "" if doc.get("salt") is None else check.string(doc["salt"], "rollout.salt")
    return None if threshold is None else Rollout(threshold, salt)


def _variants(check: Checker, value: object) -> tuple[Variant, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        check.problem("variants", f"must be a list of variants, got {kind_of(value)}")
        return ()
    if not value:
        check.problem("variants", "must list at least one variant (leave it out for none)")
        return ()
    variants: list[Variant] = []
    seen: set[str] = set()
    weighed = True  # every weight read; only then is a sum worth a word
    for index, item in enumerate(value):
        field = f"variants[{index}]"
        doc = check.obj(item, field)
        if doc is None:
            continue
        check.keys(doc, VARIANT_FIELDS, field)
        for required in ("name", "weight"):
            if required not in doc:
                check.problem(f"{field}.{required}", "is required")
        name = check.string(doc["name"], f"{field}.name") if "name" in doc else ""
        if name and name in seen:
            check.problem(f"{field}.name", f"{name!r} is already the name of another variant")
        seen.add(name)
        weight = check.integer(doc["weight"], f"{field}.weight") if "weight" in doc else None
        if weight is not None and weight < 0:
            check.problem(f"{field}.weight", f"must not be negative, got {weight}")
        weighed = weighed and weight is not None and weight >= 0
        payload = None
        if doc.get("payload") is not None:
            payload = payload_from_value(check, doc["payload"], f"{field}.payload")
        variants.append(Variant(name, max(weight or 0, 0), payload))
    total = sum(v.weight for v in variants)
    if weighed and len(variants) == len(value) and total == 0:
        check.problem("variants", "the weights are all zero; at least one must be positive")
    if total > MAX_TOTAL_WEIGHT:
        check.problem(
            "variants", f"the weights add up to {total:,}, more than {MAX_TOTAL_WEIGHT:,}"
        )
    return tuple(variants)


def _schedule(check: Checker, value: object) -> Schedule | None:
    if value is None:
        return None
    doc = check.obj(value, "schedule")
    if doc is None:
        return None
    check.keys(doc, SCHEDULE_FIELDS, "schedule")
    for required in ("cron", "duration"):
        if required not in doc:
            check.problem(f"schedule.{required}", "is required")
    cron = check.string(doc["cron"], "schedule.cron") if "cron" in doc else ""
    timezone = DEFAULT_TIMEZONE
    if doc.get("timezone") is not None:
        timezone = check.string(doc["timezone"], "schedule.timezone")
    complete = bool(cron.strip())
    for field, test in (
        ("schedule.cron", lambda: check_cron(cron) if cron.strip() else None),
        ("schedule.timezone", lambda: zone(timezone)),
    ):
        try:
            test()
        except ValueError as exc:
            check.problem(field, str(exc))
            complete = False
    duration = None
    if "duration" in doc:
        text = doc["duration"]
        if not isinstance(text, str):
            check.problem("schedule.duration", f"must be a string like '54h', got {kind_of(text)}")
        else:
            try:
                duration = parse_duration(text)
            except ValueError as exc:
                check.problem("schedule.duration", str(exc))
    if not (complete and cron and timezone and duration is not None):
        return None
    return Schedule(cron, duration, timezone)
