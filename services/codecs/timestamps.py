"""google.protobuf.Timestamp to and from timezone-aware datetimes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from google.protobuf import timestamp_pb2

from services.domain.errors import InvalidInput

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Timestamp's valid range, years 1 to 9999 (as datetime's), in seconds from the epoch.
_MIN_SECONDS = -62_135_596_800
_MAX_SECONDS = 253_402_300_799


def timestamp_from_datetime(value: datetime) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    set_timestamp(ts, value)
    return ts


def set_timestamp(ts: timestamp_pb2.Timestamp, value: datetime) -> None:
    # Plain arithmetic, set in place: Timestamp.FromDatetime, or building a Timestamp
    # and copying it in, costs more, per field, on every response.
    delta = value - _EPOCH
    ts.seconds = delta.days * 86_400 + delta.seconds
    ts.nanos = delta.microseconds * 1000


def datetime_from_timestamp(ts: timestamp_pb2.Timestamp, field: str) -> datetime:
    """Timestamp.ToDatetime's checks and result by plain arithmetic, which is cheaper:
    every stored profile read as a domain object converts several of these.
    InvalidInput naming `field` when the Timestamp is out of range."""
    seconds, nanos = ts.seconds, ts.nanos
    if not (_MIN_SECONDS <= seconds <= _MAX_SECONDS and 0 <= nanos < 1_000_000_000):
        raise InvalidInput(field, "timestamp out of range")
    # Positional (days, seconds, microseconds): keywords cost more, on every read.
    return _EPOCH + timedelta(0, seconds, nanos // 1000)
