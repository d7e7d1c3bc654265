"""Turning approved renditions into delivery rows with send windows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import String, bindparam, cast, exists, insert, literal, null, select, update
from sqlalchemy.orm import Session

from distributor import approval
from distributor.delivery import EMAIL_KIND, idempotency_affixes
from distributor.domain import DeliveryState as S
from distributor.domain import Role
from distributor.scheduling import ScheduleError, SchedulePolicy, next_free_slot, window_for
from distributor.storage import tables as t
from distributor.storage.tables import UTCDateTime, utcnow

When = Literal["policy", "now", "at", "slot"]
RESCHEDULABLE = {S.PENDING, S.CANCELLED, S.EXPIRED, S.FAILED}


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


def _arm(
    session: Session,
    article: t.Article,
    rendition: t.Rendition,
    channel: t.Channel,
    not_before: datetime,
    not_after: datetime,
) -> int:
    """Re-arm the channel's reschedulable rows and insert the missing ones, in two set-based
    statements: scheduling for 100,000 subscribers never holds them in memory."""
    d, s, m = t.Delivery, t.Subscriber, t.Membership
    now = utcnow()
    # idempotency_key() in SQL: prefix || target || suffix.
    prefix, suffix = idempotency_affixes(article.id, channel.id, rendition.content_hash)
    rearmed: Any = session.execute(
        update(d)
        .where(
            d.article_id == article.id,
            d.channel_id == channel.id,
            d.state.in_([state.value for state in RESCHEDULABLE]),
        )
        .values(
            state=S.PENDING.value,
            rendition_id=rendition.id,
            content_hash=rendition.content_hash,
            idem_key=literal(prefix).concat(d.target).concat(literal(suffix)),
            not_before=not_before,
            not_after=not_after,
            attempts=0,
            last_error=None,
            lease_until=None,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if channel.kind == EMAIL_KIND:
        target: Any = literal("sub").concat(cast(s.id, String))
        subscriber: Any = s.id
        eligible: Any = (
            select(s.id)
            .join(m, m.subscriber_id == s.id)
            .where(
                m.list_id == channel.config.get("list_id"),
                m.status == "subscribed",
                s.suppressed_reason.is_(None),
            )
        )
    else:
        target, subscriber, eligible = literal("post"), null(), None
    taken = select(d.id).where(
        d.article_id == article.id, d.channel_id == channel.id, d.target == target
    )
    values = select(
        literal(article.id),
        literal(channel.id),
        literal(rendition.id),
        target,
        subscriber,
        literal(rendition.content_hash),
        literal(prefix).concat(target).concat(literal(suffix)),
        literal(S.PENDING.value),
        literal(0),
        bindparam("not_before", not_before, type_=UTCDateTime()),
        bindparam("not_after", not_after, type_=UTCDateTime()),
        bindparam("created_at", now, type_=UTCDateTime()),
        bindparam("updated_at", now, type_=UTCDateTime()),
    ).where(~exists(taken))
    if eligible is not None:
        values = values.select_from(s).where(s.id.in_(eligible))
    columns = [
        "article_id",
        "channel_id",
        "rendition_id",
        "target",
        "subscriber_id",
        "content_hash",
        "idem_key",
        "state",
        "attempts",
        "not_before",
        "not_after",
        "created_at",
        "updated_at",
    ]
    inserted: Any = session.execute(insert(d).from_select(columns, values))
    return int(rearmed.rowcount or 0) + int(inserted.rowcount or 0)
