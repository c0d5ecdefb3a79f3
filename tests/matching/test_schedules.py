"""Schedules: live intervals from cron occurrences in a time zone, DST included; the
compiled engine inside and outside its horizon; what explanations say."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.domain.campaign import Catalog
from services.domain.profile import Profile
from services.domain.schedule import (
    Schedule,
    check_cron,
    format_duration,
    live_at,
    live_intervals,
    next_occurrence,
    parse_duration,
    zone,
)
from services.matching import CompiledCatalog, Outcome, explain, match_reference
from services.matching import schedule_windows as windows_module
from services.matching.schedule_windows import schedule_windows
from tests.matching.helpers import campaign

FRIDAY_EVENINGS = Schedule("0 18 * * FRI", timedelta(hours=54), "Europe/Paris")
YEAR = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
US = timedelta(microseconds=1)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_live_from_each_occurrence_for_the_duration_in_the_schedules_zone() -> None:
    # Friday 2026-11-27 18:00 in Paris is 17:00 UTC (winter time); 54 h later is
    # Monday 00:00 in Paris, Sunday 23:00 UTC.
    start, end = at("2026-11-27T17:00:00+00:00"), at("2026-11-29T23:00:00+00:00")
    assert not live_at(FRIDAY_EVENINGS, start - US)
    assert live_at(FRIDAY_EVENINGS, start)
    assert live_at(FRIDAY_EVENINGS, end - US)
    assert not live_at(FRIDAY_EVENINGS, end)
    # In summer time the same local 18:00 is 16:00 UTC.
    assert live_at(FRIDAY_EVENINGS, at("2026-07-03T16:00:00+00:00"))
    assert not live_at(FRIDAY_EVENINGS, at("2026-07-03T15:59:59+00:00"))


def test_the_duration_is_elapsed_time_across_a_dst_change() -> None:
    # Friday 2026-03-27 18:00 CET (17:00 UTC); clocks go forward on Sunday the 29th, so
    # 54 elapsed hours end at 23:00 UTC, which is Monday 01:00 in Paris.
    end = at("2026-03-29T23:00:00+00:00")
    assert live_at(FRIDAY_EVENINGS, end - US)
    assert not live_at(FRIDAY_EVENINGS, end)


def test_a_wall_time_repeated_when_clocks_go_back_occurs_twice_as_croniter_says() -> None:
    nightly = Schedule("30 2 * * *", timedelta(minutes=10), "Europe/Paris")
    # 2026-10-25 02:30 happens at 00:30 UTC (summer time) and again at 01:30 UTC.
    assert live_at(nightly, at("2026-10-25T00:35:00+00:00"))
    assert live_at(nightly, at("2026-10-25T01:35:00+00:00"))
    assert not live_at(nightly, at("2026-10-25T01:00:00+00:00"))


def test_live_intervals_merge_overlaps_and_agree_with_live_at() -> None:
    overlapping = Schedule("*/20 * * * *", timedelta(hours=1), "UTC")
    since, until = at("2026-05-01T00:00:00+00:00"), at("2026-05-01T03:00:00+00:00")
    intervals, complete = live_intervals(overlapping, since, until, limit=100)
    assert complete == until
    assert intervals == [(at("2026-04-30T23:20:00+00:00"), at("2026-05-01T03:40:00+00:00"))]

    intervals, _ = live_intervals(FRIDAY_EVENINGS, *YEAR, limit=100)
    assert len(intervals) == 52  # the Fridays of 2026
    for start, end in intervals[:5]:
        assert live_at(FRIDAY_EVENINGS, start)
        assert not live_at(FRIDAY_EVENINGS, end)
        assert not live_at(FRIDAY_EVENINGS, start - US)


def test_live_intervals_stop_at_the_limit_and_say_how_far_they_are_complete() -> None:
    hourly = Schedule("0 * * * *", timedelta(minutes=5), "UTC")
    since = at("2026-05-01T00:00:00+00:00")
    intervals, complete = live_intervals(hourly, since, since + timedelta(days=1), limit=3)
    assert len(intervals) == 3
    # Every occurrence before the fourth (03:00) is listed.
    assert complete == at("2026-05-01T03:00:00+00:00")


def test_next_occurrence_is_strictly_after() -> None:
    first = at("2026-11-27T17:00:00+00:00")
    assert next_occurrence(FRIDAY_EVENINGS, first - US) == first
    assert next_occurrence(FRIDAY_EVENINGS, first) == first + timedelta(days=7)


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("0 18 * *", "must have 5 fields"),
        ("0 18 * * FRI 2026", "must have 5 fields"),
        ("@weekly", "must have 5 fields"),
        ("H 18 * * *", "minute field 'H' is not valid cron syntax"),
        ("R 1 * * *", "minute field 'R' is not valid cron syntax"),
        ("61 * * * *", "is not a valid cron expression"),
        ("0 18 * * FRX", "is not a valid cron expression"),
        ("0 0 30 2 *", "never fires"),
    ],
)
def test_bad_crons(expression: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        check_cron(expression)


@pytest.mark.parametrize("expression", ["0 18 * * FRI", "*/15 9-17 * * MON-FRI", "0 0 L * *"])
def test_good_crons(expression: str) -> None:
    check_cron(expression)


def test_durations() -> None:
    assert parse_duration("54h") == timedelta(hours=54)
    assert parse_duration("1h30m") == timedelta(minutes=90)
    assert parse_duration("2d") == timedelta(days=2)
    assert format_duration(timedelta(days=2, minutes=30)) == "48h30m"
    for bad, problem in [
        ("0h", "not positive"),
        ("", "not a duration"),
        ("54", "not a duration"),
        ("1.5h", "not a duration"),
        ("-1h", "not a duration"),
        ("367d", "longer than"),
    ]:
        with pytest.raises(ValueError, match=problem):
            parse_duration(bad)


def test_time_zones() -> None:
    assert str(zone("Europe/Paris")) == "Europe/Paris"
    for bad in ("Europe/Pariss", "", "../etc/passwd", "CET "):
        with pytest.raises(ValueError, match="IANA time zone"):
            zone(bad)


def test_compiled_outside_its_horizon_is_exact_too() -> None:
    c = campaign("weekend", start_date=YEAR[0], end_date=YEAR[1], schedule=FRIDAY_EVENINGS)
    compiled_at = at("2026-01-10T00:00:00+00:00")
    compiled = CompiledCatalog(Catalog("v", (c,)), at=compiled_at)
    assert compiled.renew_at == compiled_at + timedelta(days=7)
    player = Profile(player_id="p")
    for moment in (
        at("2026-01-09T17:00:00+00:00"),  # inside the horizon, live
        at("2026-01-09T16:59:59+00:00"),  # inside, not yet
        at("2026-11-27T17:00:00+00:00"),  # far outside, live
        at("2026-11-27T16:00:00+00:00"),  # far outside, not live
        at("2026-12-31T23:00:00+00:00"),  # in an interval cut by end_date... not a Friday
    ):
        assert compiled.match(player, moment) == match_reference(player, [c], moment), moment
    assert compiled.recompiled(at("2026-11-27T00:00:00+00:00")).renew_at == at(
        "2026-12-04T00:00:00+00:00"
    )


def test_a_catalog_without_schedules_has_no_horizon() -> None:
    assert CompiledCatalog(Catalog("v", (campaign("plain"),))).renew_at is None


def test_schedules_too_frequent_to_list_are_checked_one_by_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(windows_module, "MAX_OCCURRENCES", 10)
    often = Schedule("*/5 * * * *", timedelta(minutes=1), "UTC")
    c = campaign("often", start_date=YEAR[0], end_date=YEAR[1], schedule=often)
    now = at("2026-05-01T12:00:00+00:00")
    found = schedule_windows([c], now)
    assert found is not None
    assert found.direct == frozenset({id(c)})
    compiled = CompiledCatalog(Catalog("v", (c,)), at=now)
    player = Profile(player_id="p")
    assert compiled.match(player, now + timedelta(seconds=30)) == ("often",)
    assert compiled.match(player, now + timedelta(minutes=2)) == ()


def test_explain_says_when_a_scheduled_campaign_is_next_live() -> None:
    c = campaign("weekend", start_date=YEAR[0], end_date=YEAR[1], schedule=FRIDAY_EVENINGS)
    [e] = explain(Profile(player_id="p"), [c], at("2026-11-25T12:00:00+00:00"))
    assert (e.outcome, e.matcher) == (Outcome.NOT_CONSIDERED, "schedule")
    assert e.reason == "schedule: not live now, next live 2026-11-27 18:00 Europe/Paris"
    assert e.expected == "0 18 * * FRI for 54h (Europe/Paris)"
    assert e.actual == "2026-11-25 13:00 Europe/Paris"

    ends_first = campaign(
        "weekend",
        start_date=YEAR[0],
        end_date=at("2026-11-26T00:00:00+00:00"),
        schedule=FRIDAY_EVENINGS,
    )
    [e] = explain(Profile(player_id="p"), [ends_first], at("2026-11-25T12:00:00+00:00"))
    assert e.reason == (
        "schedule: not live now, no live time left before end_date 2026-11-26 00:00:00Z"
    )
