"""Recurring schedules: a campaign live for `duration` from each occurrence of a cron.

A scheduled campaign is live at t when t is in its [start_date, end_date) and some
occurrence s of the cron (read in the schedule's IANA time zone, DST handled as croniter
and zoneinfo do) has s <= t < s + duration, the duration counted in elapsed time.

Since occurrences are at least a minute apart and the duration is positive, it is
enough to look at one: t is live exactly when the first occurrence after t - duration
is at or before t. `live_at` asks croniter that one question; `live_intervals` lists
every live interval over a stretch of time, which the compiled engine turns into its
time index so that a request never runs croniter.

Crons have five fields (minute hour day-of-month month day-of-week) in the usual
syntax: numbers, `*`, ranges, lists, steps, three-letter month and day names, `?`,
`L` and `N#k`. croniter's extensions that other libraries would not reproduce (seconds
and year fields, `H` hashing, `R` random, `@daily` aliases) are refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadCronError, CroniterBadDateError, CroniterError, croniter

# A longer duration would reach back across more than a year of occurrences; a campaign
# live that long is a plain window.
MAX_DURATION = timedelta(days=366)
CRON_FIELDS = ("minute", "hour", "day-of-month", "month", "day-of-week")

_VALUE = r"(?:\d+|[A-Za-z]{3})"
_ATOM = rf"(?:\*|\?|L|{_VALUE}(?:-{_VALUE})?)"
_TOKEN = rf"(?:{_ATOM}(?:/\d+)?|\d+#\d+|\d+L)"
_FIELD = re.compile(rf"{_TOKEN}(?:,{_TOKEN})*")
_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")


@dataclass(frozen=True, slots=True)
class Schedule:
    cron: str
    # Elapsed time from each occurrence; positive, at most MAX_DURATION.
    duration: timedelta
    # An IANA time zone name, e.g. "Europe/Paris".
    timezone: str


def check_cron(expression: str) -> None:
    """ValueError saying what is wrong with a cron expression, or nothing."""
    fields = expression.split()
    if len(fields) != len(CRON_FIELDS):
        raise ValueError(
            f"{expression!r} must have 5 fields ({' '.join(CRON_FIELDS)}), got {len(fields)}"
        )
    for name, text in zip(CRON_FIELDS, fields, strict=True):
        if not _FIELD.fullmatch(text):
            raise ValueError(f"{expression!r}: {name} field {text!r} is not valid cron syntax")
    try:
        runs = croniter(expression, datetime(2000, 1, 1, tzinfo=UTC))
        runs.get_next(datetime)
    except CroniterBadDateError:
        raise ValueError(f"{expression!r} never fires") from None
    except (CroniterBadCronError, CroniterError, ValueError, KeyError) as exc:
        raise ValueError(f"{expression!r} is not a valid cron expression: {exc}") from None


@lru_cache(maxsize=256)
def zone(name: str) -> ZoneInfo:
    """The IANA time zone `name`; ValueError when there is none of that name."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"{name!r} is not an IANA time zone name (like 'Europe/Paris')") from None


def parse_duration(text: str) -> timedelta:
    """`54h`, `1h30m`, `2d`, `90s`: whole days, hours, minutes and seconds, in that order."""
    match = _DURATION.fullmatch(text.strip())
    if not text.strip() or match is None:
        raise ValueError(f"{text!r} is not a duration like '54h', '1h30m' or '2d'")
    days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
    try:
        duration = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    except OverflowError:
        raise ValueError(f"{text!r} is longer than {format_duration(MAX_DURATION)}") from None
    if duration <= timedelta(0):
        raise ValueError(f"{text!r} is not positive")
    if duration > MAX_DURATION:
        raise ValueError(f"{text!r} is longer than {format_duration(MAX_DURATION)}")
    return duration


def format_duration(duration: timedelta) -> str:
    """The duration as `parse_duration` reads it, in hours, minutes and seconds (`54h`)."""
    total = int(duration.total_seconds())
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    text = "".join(
        f"{amount}{unit}"
        for amount, unit in ((hours, "h"), (minutes, "m"), (seconds, "s"))
        if amount
    )
    return text or "0s"


def next_occurrence(schedule: Schedule, after: datetime) -> datetime | None:
    """The first occurrence strictly after `after` (in UTC), or None if the cron never
    fires again."""
    return next(_occurrences(schedule, after), None)


def live_at(schedule: Schedule, t: datetime) -> bool:
    """Whether some occurrence s has s <= t < s + duration (the window is not checked)."""
    first = next_occurrence(schedule, t - schedule.duration)
    return first is not None and first <= t


def live_intervals(
    schedule: Schedule, since: datetime, until: datetime, *, limit: int
) -> tuple[list[tuple[datetime, datetime]], datetime]:
    """The live intervals meeting [since, until), merged where they touch or overlap and
    not clipped, and the instant up to which they are complete.

    That instant is `until`, or earlier when more than `limit` occurrences fall in the
    stretch: then the list stops at the last one read, and is complete before it.
    """
    merged: list[tuple[datetime, datetime]] = []
    for count, start in enumerate(_occurrences(schedule, since - schedule.duration)):
        if start >= until:
            return merged, until
        if count == limit:
            return merged, start
        end = start + schedule.duration
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged, until


def _occurrences(schedule: Schedule, after: datetime) -> Iterator[datetime]:
    """Occurrences strictly after `after`, in UTC, in order."""
    local = after.astimezone(zone(schedule.timezone))
    runs = croniter(schedule.cron, local)
    while True:
        try:
            occurrence: datetime = runs.get_next(datetime)
        except CroniterBadDateError:
            return
        yield occurrence.astimezone(UTC)


def format_local(moment: datetime, timezone: str) -> str:
    """`2026-11-27 18:00 Europe/Paris`: how explanations show a schedule's times."""
    return f"{moment.astimezone(zone(timezone)).strftime('%Y-%m-%d %H:%M')} {timezone}"
