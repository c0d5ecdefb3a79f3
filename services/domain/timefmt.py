"""Timestamps in the formats users already have.

The sample data writes `2022-01-25 00:00:00Z`; RFC 3339 (`2022-01-25T00:00:00Z`,
offsets, fractions) is accepted too. Every parsed time is timezone-aware UTC, and a
time without a zone is refused rather than guessed.
"""

from __future__ import annotations

from datetime import UTC, datetime


def parse_timestamp(text: str) -> datetime:
    """Parses `text`, raising ValueError with the reason when it is not a zoned time."""
    if not isinstance(text, str):
        raise ValueError(f"expected a timestamp string, got {type(text).__name__}")
    try:
        # Python 3.11 reads both the sample's form and RFC 3339, "Z" included.
        parsed = datetime.fromisoformat(text)
    except ValueError:
        # What it does not read: surrounding blanks and a lower-case "z".
        candidate = text.strip()
        if candidate.endswith(("Z", "z")):
            candidate = candidate[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(candidate)
        except ValueError:
            raise ValueError(
                f"{text!r} is not a timestamp like '2022-01-25 00:00:00Z' or RFC 3339"
            ) from None
    if parsed.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone (add 'Z' for UTC)")
    return parsed if parsed.tzinfo is UTC else to_utc(parsed, text)


def to_utc(value: datetime, shown: object) -> datetime:
    """`value` in UTC; ValueError when that falls outside years 1 to 9999, as
    `0001-01-01T00:00:00+01:00` does (`shown` is how the message names the time)."""
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{shown!r} is out of range (years 1 to 9999 in UTC)") from None


def format_timestamp(value: datetime) -> str:
    """Formats in the sample data's style, `2022-01-25 00:00:00Z` (fractions kept)."""
    utc = value.astimezone(UTC)
    return (
        utc.strftime("%Y-%m-%d %H:%M:%S")
        + (f".{utc.microsecond:06d}".rstrip("0") if utc.microsecond else "")
        + "Z"
    )
