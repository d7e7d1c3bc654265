"""Turning approved renditions into delivery rows with send windows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from distributor import approval
from distributor.delivery import EMAIL_KIND, idempotency_key
from distributor.domain import DeliveryState as S
from distributor.domain import Role
from distributor.scheduling import ScheduleError, SchedulePolicy, next_free_slot, window_for
from distributor.storage import tables as t
from distributor.storage.tables import utcnow

When = Literal["policy", "now", "at", "slot"]
RESCHEDULABLE = {S.PENDING, S.CANCELLED, S.EXPIRED, S.FAILED}
INSERT_CHUNK = 5000


@dataclass(frozen=True)
class Planned:
    channel: str
    not_before: datetime
    not_after: datetime
    deliveries: int


def send_time(
    session: Session,
    channel: t.Channel,
    when: When,
    at: datetime | None,
    zone: ZoneInfo,
    now: datetime,
) -> datetime:
    policy = SchedulePolicy.from_dict(channel.schedule or {})
    if when == "at":
        if at is None:
            raise ScheduleError("'at' needs a date and time")
        return at
    if when == "now" or (when == "policy" and policy.mode == "immediate"):
        return now
    taken = list(
        session.scalars(
            select(t.Delivery.not_before)
            .where(
                t.Delivery.channel_id == channel.id,
                t.Delivery.state.in_([S.PENDING, S.CLAIMED, S.SENDING, S.SENT]),
                t.Delivery.not_before >= now - _spacing(policy),
            )
            .distinct()
        )
    )
    return next_free_slot(policy, zone, now, taken)


def _spacing(policy: SchedulePolicy) -> timedelta:
    return timedelta(minutes=policy.min_spacing_minutes)


def schedule_article(
    session: Session,
    article: t.Article,
    user: t.User,
    *,
    when: When,
    at: datetime | None,
    zone: ZoneInfo,
    now: datetime,
    channel_names: list[str] | None = None,
) -> list[Planned]:
    """Create (or re-arm) the deliveries of every approved rendition of ``article``."""
    approval.require_role(user, *approval_roles())
    renditions = session.scalars(
        select(t.Rendition).where(t.Rendition.article_id == article.id).order_by(t.Rendition.id)
    ).all()
    planned: list[Planned] = []
    for rendition in renditions:
        channel = session.get(t.Channel, rendition.channel_id)
        assert channel is not None
        if channel_names and channel.name not in channel_names:
            continue
        if not channel.enabled:
            continue
        if not approval.is_approved(session, rendition, rendition.content_hash):
            if channel_names:
                raise ScheduleError(f"{channel.name}: not approved in its current form")
            continue
        policy = SchedulePolicy.from_dict(channel.schedule or {})
        not_before, not_after = window_for(policy, send_time(session, channel, when, at, zone, now))
        count = _arm(session, article, rendition, channel, not_before, not_after)
        session.add(
            t.AuditEvent(
                user_id=user.id,
                action="schedule",
                article_id=article.id,
                detail={
                    "channel": channel.name,
                    "not_before": not_before.isoformat(),
                    "not_after": not_after.isoformat(),
                    "deliveries": count,
                    "content_hash": rendition.content_hash,
                },
            )
        )
        planned.append(Planned(channel.name, not_before, not_after, count))
    if not planned:
        raise ScheduleError("nothing to schedule: no approved rendition (approve first)")
    return planned


def approval_roles() -> tuple[Role, ...]:
    return (Role.APPROVER, Role.ADMIN)


def _targets(session: Session, channel: t.Channel) -> list[tuple[str, int | None]]:
    if channel.kind != EMAIL_KIND:
        return [("post", None)]
    list_id = channel.config.get("list_id")
    rows = session.execute(
        select(t.Subscriber.id)
        .join(t.Membership, t.Membership.subscriber_id == t.Subscriber.id)
        .where(
            t.Membership.list_id == list_id,
            t.Membership.status == "subscribed",
            t.Subscriber.suppressed_reason.is_(None),
        )
        .order_by(t.Subscriber.id)
    ).all()
    return [(f"sub{sid}", sid) for (sid,) in rows]


def _arm(
    session: Session,
    article: t.Article,
    rendition: t.Rendition,
    channel: t.Channel,
    not_before: datetime,
    not_after: datetime,
) -> int:
    existing = {
        d.target: d
        for d in session.scalars(
            select(t.Delivery).where(
                t.Delivery.article_id == article.id, t.Delivery.channel_id == channel.id
            )
        )
    }
    fresh: list[dict[str, object]] = []
    armed = 0
    for target, subscriber_id in _targets(session, channel):
        key = idempotency_key(article.id, channel.id, target, rendition.content_hash)
        row = existing.get(target)
        if row is None:
            fresh.append(
                {
                    "article_id": article.id,
                    "channel_id": channel.id,
                    "rendition_id": rendition.id,
                    "target": target,
                    "subscriber_id": subscriber_id,
                    "content_hash": rendition.content_hash,
                    "idem_key": key,
                    "state": S.PENDING.value,
                    "attempts": 0,
                    "not_before": not_before,
                    "not_after": not_after,
                    "created_at": utcnow(),
                    "updated_at": utcnow(),
                }
            )
        elif row.state in RESCHEDULABLE:
            row.state = S.PENDING
            row.content_hash = rendition.content_hash
            row.idem_key = key
            row.not_before = not_before
            row.not_after = not_after
            row.attempts = 0
            row.last_error = None
        else:
            continue
        armed += 1
    for start in range(0, len(fresh), INSERT_CHUNK):
        session.execute(insert(t.Delivery), fresh[start : start + INSERT_CHUNK])
    return armed
