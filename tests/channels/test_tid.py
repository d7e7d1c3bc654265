from __future__ import annotations

from datetime import UTC, datetime, timedelta

from distributor.channels.tid import TID_PATTERN, clock_id_for, tid_for

CREATED = datetime(2026, 11, 28, 9, 30, 15, 123456, tzinfo=UTC)


def test_a_tid_matches_the_lexicon_pattern() -> None:
    for key in ("delivery-1", "delivery-2", "ünïcode-key", ""):
        assert TID_PATTERN.fullmatch(tid_for(CREATED, key))


def test_the_same_delivery_always_gets_the_same_tid() -> None:
    assert tid_for(CREATED, "delivery-7") == tid_for(CREATED, "delivery-7")


def test_two_deliveries_created_in_the_same_microsecond_get_different_tids() -> None:
    assert clock_id_for("delivery-7") != clock_id_for("delivery-8")
    assert tid_for(CREATED, "delivery-7") != tid_for(CREATED, "delivery-8")


def test_later_deliveries_sort_after_earlier_ones() -> None:
    later = CREATED + timedelta(microseconds=1)
    assert tid_for(CREATED, "zzz") < tid_for(later, "aaa")


def test_a_naive_time_is_read_as_utc() -> None:
    assert tid_for(CREATED.replace(tzinfo=None), "k") == tid_for(CREATED, "k")


def test_the_tid_encodes_microseconds_then_the_clock_id() -> None:
    alphabet = "234567abcdefghijklmnopqrstuvwxyz"
    value = 0
    for char in tid_for(CREATED, "k"):
        value = value * 32 + alphabet.index(char)
    micros = int(CREATED.timestamp()) * 1_000_000 + CREATED.microsecond
    assert value >> 10 == micros
    assert value & 1023 == clock_id_for("k")
    assert value >> 63 == 0
