"""Send windows in the organisation's time zone, across daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from distributor.scheduling import (
    ScheduleError,
    SchedulePolicy,
    local_to_utc,
    next_free_slot,
    parse_local_datetime,
)

ZURICH = ZoneInfo("Europe/Zurich")


def test_a_local_time_in_winter_is_one_hour_ahead_of_utc() -> None:
    assert local_to_utc(datetime(2026, 12, 1, 9, 0), ZURICH) == datetime(
        2026, 12, 1, 8, 0, tzinfo=UTC
    )


def test_a_time_skipped_by_the_spring_change_moves_forward_past_the_gap() -> None:
    # 28 March 2027: clocks jump from 02:00 to 03:00 in Zurich; 02:30 does not exist.
    sent = local_to_utc(datetime(2027, 3, 28, 2, 30), ZURICH)
    assert sent == datetime(2027, 3, 28, 1, 30, tzinfo=UTC)
    assert sent.astimezone(ZURICH).strftime("%H:%M") == "03:30"


def test_a_time_repeated_by_the_autumn_change_takes_its_first_occurrence() -> None:
    # 31 October 2027: 02:30 happens twice in Zurich; the first is still summer time.
    assert local_to_utc(datetime(2027, 10, 31, 2, 30), ZURICH) == datetime(
        2027, 10, 31, 0, 30, tzinfo=UTC
    )


def test_an_explicit_offset_is_respected() -> None:
    assert parse_local_datetime("2026-12-01T09:00+00:00", ZURICH) == datetime(
        2026, 12, 1, 9, tzinfo=UTC
    )


def test_a_malformed_time_is_a_clear_error() -> None:
    with pytest.raises(ScheduleError, match="not a date and time"):
        parse_local_datetime("tomorrow-ish", ZURICH)
    with pytest.raises(ScheduleError, match="HH:MM"):
        SchedulePolicy.from_dict({"mode": "slots", "slots": ["9h"]})


def test_the_next_slot_is_the_first_daily_time_after_now() -> None:
    policy = SchedulePolicy(mode="slots", slots=(time(9), time(13)))
    now = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)  # 10:30 in Zurich
    assert next_free_slot(policy, ZURICH, now, []) == datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def test_the_next_slot_keeps_the_minimum_spacing_from_other_sends() -> None:
    policy = SchedulePolicy(
        mode="slots", slots=(time(9), time(10), time(13)), min_spacing_minutes=120
    )
    now = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
    taken = [datetime(2026, 12, 1, 8, 0, tzinfo=UTC)]  # 09:00 local is taken
    # 10:00 local is only 60 minutes after it; 13:00 local is free.
    assert next_free_slot(policy, ZURICH, now, taken) == datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def test_a_taken_slot_without_spacing_moves_to_the_next_day() -> None:
    policy = SchedulePolicy(mode="slots", slots=(time(9),))
    now = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
    taken = [datetime(2026, 12, 1, 8, 0, tzinfo=UTC)]
    assert next_free_slot(policy, ZURICH, now, taken) == datetime(2026, 12, 2, 8, 0, tzinfo=UTC)


def test_slots_follow_the_local_clock_across_the_change() -> None:
    policy = SchedulePolicy(mode="slots", slots=(time(9),))
    before = datetime(2027, 3, 27, 12, 0, tzinfo=UTC)
    slot = next_free_slot(policy, ZURICH, before, [])
    assert slot == datetime(2027, 3, 28, 7, 0, tzinfo=UTC)  # 09:00 summer time
    assert slot - datetime(2027, 3, 27, 8, 0, tzinfo=UTC) == timedelta(hours=23)
