"""Send windows from a channel's policy, in the organisation's time zone, stored in UTC.

Pure functions: the ledger stores the windows; nothing here holds a timer (no Celery ETA)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo


class ScheduleError(ValueError):
    pass


@dataclass(frozen=True)
class SchedulePolicy:
    """``immediate`` sends as soon as approved and scheduled; ``slots`` takes the next daily
    local time from ``slots`` that is at least ``min_spacing_minutes`` from the channel's
    other scheduled sends. ``window_hours`` is how late a send may still go out."""

    mode: Literal["immediate", "slots"] = "immediate"
    slots: tuple[time, ...] = field(default_factory=tuple)
    min_spacing_minutes: int = 0
    window_hours: float = 24.0

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SchedulePolicy:
        mode = data.get("mode", "immediate")
        if mode not in ("immediate", "slots"):
            raise ScheduleError(f"unknown schedule mode {mode!r}: use 'immediate' or 'slots'")
        slots = tuple(sorted(parse_local_time(s) for s in data.get("slots", ())))
        if mode == "slots" and not slots:
            raise ScheduleError("a 'slots' schedule needs at least one daily time, e.g. 09:00")
        return cls(
            mode=mode,
            slots=slots,
            min_spacing_minutes=int(data.get("min_spacing_minutes", 0)),
            window_hours=float(data.get("window_hours", 24.0)),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "slots": [s.strftime("%H:%M") for s in self.slots],
            "min_spacing_minutes": self.min_spacing_minutes,
            "window_hours": self.window_hours,
        }


def parse_local_time(text: str) -> time:
    try:
        return time.fromisoformat(text.strip())
    except ValueError:
        raise ScheduleError(f"not a time of day: {text!r} (expected HH:MM)") from None


def local_to_utc(local: datetime, zone: ZoneInfo) -> datetime:
    """A wall-clock time in ``zone`` as UTC. A time skipped by a DST change moves forward by
    the gap (02:30 on a spring-forward night is 03:30); a repeated time takes its first
    occurrence."""
    if local.tzinfo is not None:
        return local.astimezone(UTC)
    candidate = local.replace(tzinfo=zone, fold=0)
    as_utc = candidate.astimezone(UTC)
    if as_utc.astimezone(zone).replace(tzinfo=None) != local:
        # In a gap: fold=1 gives the offset after the change, which lands past the gap.
        as_utc = local.replace(tzinfo=zone, fold=1).astimezone(UTC)
        as_utc = max(as_utc, candidate.astimezone(UTC))
    return as_utc


def parse_local_datetime(text: str, zone: ZoneInfo) -> datetime:
    """``2026-11-29 09:00`` in the organisation's zone (or with an explicit offset) → UTC."""
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ScheduleError(f"not a date and time: {text!r} (expected YYYY-MM-DD HH:MM)") from None
    return local_to_utc(parsed, zone)


def next_free_slot(
    policy: SchedulePolicy, zone: ZoneInfo, now: datetime, taken: list[datetime]
) -> datetime:
    """The first daily slot after ``now`` that keeps ``min_spacing_minutes`` from ``taken``."""
    if not policy.slots:
        raise ScheduleError("this channel has no daily slots configured")
    spacing = timedelta(minutes=policy.min_spacing_minutes)
    today: date = now.astimezone(zone).date()
    for day_offset in range(0, 366):
        day = today + timedelta(days=day_offset)
        for slot in policy.slots:
            at = local_to_utc(datetime.combine(day, slot), zone)
            if at < now:
                continue
            if all(abs(at - other) >= spacing for other in taken) or spacing == timedelta(0):
                if spacing == timedelta(0) and at in taken:
                    continue
                return at
    raise ScheduleError("no free slot in the next year")


def window_for(policy: SchedulePolicy, not_before: datetime) -> tuple[datetime, datetime]:
    return not_before, not_before + timedelta(hours=policy.window_hours)
