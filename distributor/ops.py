"""The operations view: every delivery with its state and attempts, and a person's actions on
them (cancel, retry, resolve an unknown outcome, pause everything). Bulk actions are single
set-based statements, so cancelling a 100,000-recipient newsletter is one UPDATE."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.orm import Session

from distributor import delivery as ledger
from distributor.approval import require_role
from distributor.domain import DeliveryState as S
from distributor.domain import Role
from distributor.paging import Page, bounds
from distributor.storage import tables as t

CANCELLABLE = (S.PENDING.value, S.CLAIMED.value)
RETRYABLE = (S.FAILED.value, S.EXPIRED.value, S.CANCELLED.value)
OPERATORS = (Role.APPROVER, Role.ADMIN)


class OpsError(ValueError):
    pass


@dataclass(frozen=True)
class DeliveryRow:
    id: int
    article_id: int
    article_title: str
    channel: str
    target: str
    state: str
    attempts: int
    not_before: datetime
    not_after: datetime | None
    remote_url: str | None
    last_error: str | None
    updated_at: datetime


def deliveries_page(
    session: Session,
    *,
    state: str | None = None,
    article_id: int | None = None,
    channel: str | None = None,
    page: int = 1,
    per_page: int = 50,
) -> Page[DeliveryRow]:
    """Newest first; two queries (count, rows with their channel and article) per page."""
    if state and state not in {s.value for s in S}:
        raise OpsError(f"unknown state {state!r}; use one of: {', '.join(s.value for s in S)}")
    page, per_page = bounds(page, per_page)
    d = t.Delivery
    where: list[ColumnElement[bool]] = []
    if state:
        where.append(d.state == state)
    if article_id is not None:
        where.append(d.article_id == article_id)
    if channel:
        where.append(
            d.channel_id == select(t.Channel.id).where(t.Channel.name == channel).scalar_subquery()
        )
    total = int(session.scalar(select(func.count()).select_from(d).where(*where)) or 0)
    rows = session.execute(
        select(d, t.Channel.name, t.Article.title)
        .join(t.Channel, t.Channel.id == d.channel_id)
        .join(t.Article, t.Article.id == d.article_id)
        .where(*where)
        .order_by(d.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return Page(
        [
            DeliveryRow(
                x.id,
                x.article_id,
                title,
                name,
                x.target,
                x.state,
                x.attempts,
                x.not_before,
                x.not_after,
                x.remote_url,
                x.last_error,
                x.updated_at,
            )
            for x, name, title in rows
        ],
        total,
        page,
        per_page,
    )


def _scope(delivery_id: int | None, article_id: int | None, channel_id: int | None) -> list[Any]:
    d = t.Delivery
    if delivery_id is not None:
        return [d.id == delivery_id]
    if article_id is None:
        raise OpsError("name a delivery, or an article (and optionally a channel)")
    where = [d.article_id == article_id]
    if channel_id is not None:
        where.append(d.channel_id == channel_id)
    return where


def cancel(
    session: Session,
    user: t.User,
    *,
    now: datetime,
    delivery_id: int | None = None,
    article_id: int | None = None,
    channel_id: int | None = None,
) -> int:
    """Cancel scheduled sends that have not started; returns how many rows were cancelled."""
    require_role(user, *OPERATORS)
    where = _scope(delivery_id, article_id, channel_id)
    changed = _update(
        session,
        where,
        CANCELLABLE,
        state=S.CANCELLED.value,
        lease_until=None,
        last_error=f"cancelled by {user.email}",
        updated_at=now,
    )
    if changed == 0:
        raise OpsError("nothing to cancel: only scheduled sends that have not started can be")
    _audit(session, user, "cancel", delivery_id, article_id, channel_id, changed)
    return changed


def retry(
    session: Session,
    user: t.User,
    *,
    now: datetime,
    window: timedelta = timedelta(hours=24),
    delivery_id: int | None = None,
    article_id: int | None = None,
    channel_id: int | None = None,
) -> int:
    """Send failed, expired or cancelled rows again from now, with the same idempotency key;
    the guard still checks the approval at send time."""
    require_role(user, *OPERATORS)
    where = _scope(delivery_id, article_id, channel_id)
    changed = _update(
        session,
        where,
        RETRYABLE,
        state=S.PENDING.value,
        not_before=now,
        not_after=now + window,
        attempts=0,
        lease_until=None,
        last_error=None,
        updated_at=now,
    )
    if changed == 0:
        raise OpsError("nothing to retry: only failed, expired or cancelled sends can be")
    _audit(session, user, "retry", delivery_id, article_id, channel_id, changed)
    return changed


def resolve(
    session: Session,
    user: t.User,
    delivery_id: int,
    *,
    sent: bool,
    remote_url: str | None,
    now: datetime,
) -> t.Delivery:
    """A person's decision on an ``unknown`` outcome: it went out (at this URL), or send again."""
    require_role(user, *OPERATORS)
    url = (remote_url or "").strip() or None
    if sent and url and not url.startswith(("https://", "http://")):
        raise OpsError(f"not a link to the live post: {url!r}")
    try:
        return ledger.resolve_unknown(
            session, delivery_id, sent=sent, remote_url=url, user_id=user.id, now=now
        )
    except ValueError as error:
        raise OpsError(str(error)) from None


def set_paused(session: Session, user: t.User, paused: bool) -> None:
    require_role(user, *OPERATORS)
    ledger.set_paused(session, paused, user.id)


def _update(session: Session, where: list[Any], states: tuple[str, ...], **values: Any) -> int:
    result: Any = session.execute(
        update(t.Delivery)
        .where(*where, t.Delivery.state.in_(states))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)


def _audit(
    session: Session,
    user: t.User,
    action: str,
    delivery_id: int | None,
    article_id: int | None,
    channel_id: int | None,
    count: int,
) -> None:
    if article_id is None and delivery_id is not None:
        article_id = session.scalar(
            select(t.Delivery.article_id).where(t.Delivery.id == delivery_id)
        )
    session.add(
        t.AuditEvent(
            user_id=user.id,
            action=action,
            article_id=article_id,
            detail={"delivery_id": delivery_id, "channel_id": channel_id, "deliveries": count},
        )
    )
