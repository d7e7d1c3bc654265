"""The delivery ledger: every external effect is a row that moves

    pending → claimed (lease) → sending → sent | failed | unknown
                                       ↘ pending (retry later)      and  → expired | cancelled

The dispatcher claims due rows and hands out jobs; a task claims its row again and checks the
guard; ``sending`` is committed before the network call, the result right after it. A sweeper
returns expired claims and turns stuck ``sending`` rows into ``unknown``; nothing is retried
blindly after an ambiguous outcome.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import Connection, Select, Table, and_, bindparam, case, func, or_, select, update
from sqlalchemy.orm import Session

from distributor import approval
from distributor.domain import DeliveryState as S
from distributor.storage import tables as t

PAUSED_FLAG = "paused"
# The table itself, for the prepared statements of the newsletter hot path (Core, not ORM).
DELIVERIES: Table = t.Delivery.__table__  # type: ignore[assignment]
EMAIL_KIND = "email"


@dataclass(frozen=True)
class Job:
    """What the dispatcher hands to the queue: ids only."""

    kind: str  # "post" or "email"
    delivery_ids: tuple[int, ...]


@dataclass(frozen=True)
class Claimed:
    delivery: t.Delivery
    rendition: t.Rendition
    channel: t.Channel


def is_paused(session: Session) -> bool:
    flag = session.get(t.Flag, PAUSED_FLAG)
    return flag is not None and flag.value == "1"


def set_paused(session: Session, paused: bool, user_id: int | None = None) -> None:
    flag = session.get(t.Flag, PAUSED_FLAG)
    if flag is None:
        session.add(t.Flag(name=PAUSED_FLAG, value="1" if paused else "0"))
    else:
        flag.value = "1" if paused else "0"
    session.add(t.AuditEvent(user_id=user_id, action="pause" if paused else "resume", detail={}))


def idempotency_key(article_id: int, channel_id: int, target: str, content_hash: str) -> str:
    """Derived from the delivery and the content it carries, never from an attempt."""
    prefix, suffix = idempotency_affixes(article_id, channel_id, content_hash)
    return f"{prefix}{target}{suffix}"


def idempotency_affixes(article_id: int, channel_id: int, content_hash: str) -> tuple[str, str]:
    """What surrounds the target in a key, for building keys in SQL."""
    return f"dlv-a{article_id}-c{channel_id}-", f"-{content_hash[:16]}"


def retry_delay(attempts: int, retry_after: float | None) -> timedelta:
    if retry_after is not None:
        return timedelta(seconds=max(1.0, retry_after))
    return timedelta(seconds=min(300, 15 * 2 ** max(0, attempts - 1)))


def _lock(query: Select[Any], session: Session) -> Select[Any]:
    if session.get_bind().dialect.name == "postgresql":
        # Lock only the ledger rows: locking the joined channel row would make a second
        # dispatcher skip every delivery of that channel.
        return query.with_for_update(skip_locked=True, of=t.Delivery)
    return query


def dispatch(
    session: Session, *, now: datetime, lease: timedelta, limit: int, batch: int
) -> list[Job]:
    """Claim due rows and group them into jobs. Safe to run twice at once: a row is claimed by
    one transaction only (SKIP LOCKED on PostgreSQL, the write lock on SQLite).

    ``limit`` caps the rows waiting in the queue, per kind (emails, posts): a 100,000-recipient
    send is fed to the workers as they drain it, so no claim outlives its lease in the queue
    and a newsletter never holds back the posts."""
    expire_overdue(session, now=now)
    if is_paused(session):
        return []
    is_email = t.Channel.kind == EMAIL_KIND
    waiting = dict(
        session.execute(
            select(is_email, func.count())
            .select_from(t.Delivery)
            .join(t.Channel, t.Channel.id == t.Delivery.channel_id)
            .where(t.Delivery.state == S.CLAIMED)
            .group_by(is_email)
        ).all()
    )
    ids: list[int] = []
    for email in (True, False):
        room = limit - int(waiting.get(email, 0))
        if room <= 0:
            continue
        due = _lock(
            select(t.Delivery.id)
            .join(t.Channel, t.Channel.id == t.Delivery.channel_id)
            .where(
                t.Delivery.state == S.PENDING,
                t.Delivery.not_before <= now,
                t.Channel.enabled.is_(True),
                t.Channel.status == "ok",
                is_email if email else ~is_email,
            )
            .order_by(t.Delivery.not_before, t.Delivery.id)
            .limit(room),
            session,
        )
        ids.extend(session.scalars(due))
    if not ids:
        return []
    claimed = session.execute(
        update(t.Delivery)
        .where(t.Delivery.id.in_(ids), t.Delivery.state == S.PENDING)
        .values(state=S.CLAIMED, lease_until=now + lease, updated_at=now)
        .returning(t.Delivery.id, t.Delivery.channel_id, t.Delivery.rendition_id)
    ).all()
    kinds = dict(
        session.execute(
            select(t.Channel.id, t.Channel.kind).where(
                t.Channel.id.in_({row.channel_id for row in claimed})
            )
        ).all()
    )
    jobs: list[Job] = []
    email_groups: dict[int, list[int]] = {}
    for row in sorted(claimed, key=lambda r: r.id):
        if kinds[row.channel_id] == EMAIL_KIND:
            email_groups.setdefault(row.rendition_id, []).append(row.id)
        else:
            jobs.append(Job("post", (row.id,)))
    for group in email_groups.values():
        for start in range(0, len(group), batch):
            jobs.append(Job("email", tuple(group[start : start + batch])))
    return jobs


def expire_overdue(session: Session, *, now: datetime) -> int:
    result = session.execute(
        update(t.Delivery)
        .where(
            t.Delivery.state.in_([S.PENDING, S.CLAIMED]),
            t.Delivery.not_after.is_not(None),
            t.Delivery.not_after < now,
        )
        .values(state=S.EXPIRED, lease_until=None, updated_at=now, last_error="send window closed")
    )
    return result.rowcount or 0  # type: ignore[attr-defined]


def claim_for_send(
    session: Session,
    delivery_id: int,
    *,
    now: datetime,
    lease: timedelta,
) -> Claimed | None:
    """Take a dispatched row, check the guard, and record the intent (state ``sending``).

    Returns None when the row is not ours to send (already taken, done, or held back); the
    reason is written on the row. The caller commits before making the call."""
    delivery = session.scalars(
        _lock(select(t.Delivery).where(t.Delivery.id == delivery_id), session)
    ).first()
    if delivery is None or delivery.state != S.CLAIMED:
        return None
    rendition = session.get(t.Rendition, delivery.rendition_id)
    channel = session.get(t.Channel, delivery.channel_id)
    assert rendition is not None and channel is not None
    verdict = _guard(session, delivery, rendition, channel, now)
    if verdict is not None:
        state, reason = verdict
        delivery.state = state
        delivery.lease_until = None
        delivery.last_error = reason
        delivery.updated_at = now
        return None
    delivery.state = S.SENDING
    delivery.attempts += 1
    delivery.lease_until = now + lease
    delivery.updated_at = now
    session.add(t.Attempt(delivery_id=delivery.id, started_at=now, outcome="started"))
    return Claimed(delivery, rendition, channel)


@dataclass(frozen=True)
class Facts:
    """Everything the guard decides on, read in the claiming transaction."""

    paused: bool
    channel_name: str
    channel_status: str
    channel_enabled: bool
    approved: bool
    not_before: datetime
    not_after: datetime | None
    recipient_block: str | None = None


def judge(facts: Facts, now: datetime) -> tuple[S, str] | None:
    """None when the send may go ahead, else the state to put the row in and why."""
    if facts.paused:
        return S.PENDING, "held: sending is paused"
    if not facts.channel_enabled or facts.channel_status != "ok":
        return S.PENDING, f"held: channel {facts.channel_name} is {facts.channel_status}"
    if not facts.approved:
        return S.CANCELLED, "cancelled: the approval is no longer valid for this content"
    if facts.not_after is not None and now > facts.not_after:
        return S.EXPIRED, "send window closed"
    if now < facts.not_before:
        return S.PENDING, "held: not yet due"
    if facts.recipient_block:
        return S.CANCELLED, facts.recipient_block
    return None


def _guard(
    session: Session,
    delivery: t.Delivery,
    rendition: t.Rendition,
    channel: t.Channel,
    now: datetime,
) -> tuple[S, str] | None:
    facts = Facts(
        paused=is_paused(session),
        channel_name=channel.name,
        channel_status=channel.status,
        channel_enabled=channel.enabled,
        approved=approval.is_approved(session, rendition, delivery.content_hash),
        not_before=delivery.not_before,
        not_after=delivery.not_after,
        recipient_block=(
            _recipient_block(session, delivery, channel) if delivery.subscriber_id else None
        ),
    )
    return judge(facts, now)


@dataclass(frozen=True)
class Recipient:
    """A newsletter delivery claimed for sending, with what the message needs."""

    delivery_id: int
    idem_key: str
    subscriber_id: int
    email: str
    name: str


def claim_recipient(
    connection: Connection,
    delivery_id: int,
    *,
    rendition_id: int,
    channel_id: int,
    list_id: int,
    now: datetime,
    lease: timedelta,
) -> Recipient | None:
    """claim_for_send for one newsletter recipient, in three prepared statements: the hot
    path of a fan-out runs the same guard without building queries or loading ORM rows."""
    postgresql = connection.dialect.name == "postgresql"
    row = connection.execute(
        _recipient_query(postgresql), {"delivery_id": delivery_id, "list_id": list_id}
    ).first()
    if row is None or row.state != S.CLAIMED:
        return None
    block = None
    if row.suppressed_reason:
        block = f"cancelled: address suppressed ({row.suppressed_reason})"
    elif row.status != "subscribed":
        block = "cancelled: recipient unsubscribed"
    shared = connection.execute(
        _shared_facts_query(), {"rendition_id": rendition_id, "channel_id": channel_id}
    ).one()
    facts = Facts(
        paused=shared.paused == "1",
        channel_name=shared.channel_name,
        channel_status=shared.channel_status,
        channel_enabled=bool(shared.channel_enabled),
        approved=(
            shared.content_hash == row.content_hash
            and not shared.error
            and shared.decision == approval.APPROVE
        ),
        not_before=row.not_before,
        not_after=row.not_after,
        recipient_block=block,
    )
    verdict = judge(facts, now)
    if verdict is None:
        values: dict[str, Any] = {
            "state": S.SENDING.value,
            "lease_until": now + lease,
            "error": None,
        }
    else:
        values = {"state": verdict[0].value, "lease_until": None, "error": verdict[1]}
    connection.execute(
        _mark_query(),
        {**values, "delivery_id": delivery_id, "now": now, "sending": verdict is None},
    )
    if verdict is not None:
        return None
    return Recipient(delivery_id, row.idem_key, row.subscriber_id, row.email, row.name)


def record_recipient_sent(
    connection: Connection, delivery_id: int, *, message_id: str, now: datetime
) -> None:
    """record_sent for a newsletter recipient: the row alone is the record, so a send to
    100,000 people does not also write 200,000 journal rows."""
    connection.execute(
        _sent_query(),
        {"delivery_id": delivery_id, "remote_id": message_id, "url": None, "now": now},
    )


@cache
def _recipient_query(postgresql: bool) -> Any:
    s, m, d = t.Subscriber, t.Membership, t.Delivery
    query = (
        select(
            d.state,
            d.content_hash,
            d.not_before,
            d.not_after,
            d.idem_key,
            d.subscriber_id,
            s.email,
            s.name,
            s.suppressed_reason,
            m.status,
        )
        .join(s, s.id == d.subscriber_id)
        .outerjoin(m, and_(m.subscriber_id == s.id, m.list_id == bindparam("list_id")))
        .where(d.id == bindparam("delivery_id"))
    )
    return query.with_for_update(of=d, skip_locked=True) if postgresql else query


@cache
def _shared_facts_query() -> Select[Any]:
    """The parts of the guard common to every recipient, in one statement."""
    r, a, c = t.Rendition, t.Approval, t.Channel
    latest = (
        select(a.decision)
        .where(a.rendition_id == r.id, a.voided_at.is_(None), a.content_hash == r.content_hash)
        .order_by(a.decided_at.desc(), a.id.desc())
        .limit(1)
        .scalar_subquery()
    )

    def channel(column: Any) -> Any:
        return select(column).where(c.id == bindparam("channel_id")).scalar_subquery()

    paused = select(t.Flag.value).where(t.Flag.name == PAUSED_FLAG).scalar_subquery()
    return select(
        r.content_hash,
        r.error,
        latest.label("decision"),
        channel(c.name).label("channel_name"),
        channel(c.status).label("channel_status"),
        channel(c.enabled).label("channel_enabled"),
        paused.label("paused"),
    ).where(r.id == bindparam("rendition_id"))


@cache
def _sent_query() -> Any:
    return (
        update(DELIVERIES)
        .where(DELIVERIES.c.id == bindparam("delivery_id"))
        .values(
            state=S.SENT.value,
            remote_id=bindparam("remote_id"),
            remote_url=bindparam("url"),
            lease_until=None,
            last_error=None,
            updated_at=bindparam("now"),
        )
    )


@cache
def _mark_query() -> Any:
    d = DELIVERIES.c
    return (
        update(DELIVERIES)
        .where(d.id == bindparam("delivery_id"))
        .values(
            state=bindparam("state"),
            lease_until=bindparam("lease_until"),
            last_error=bindparam("error"),
            updated_at=bindparam("now"),
            attempts=d.attempts + case((bindparam("sending"), 1), else_=0),
        )
    )


def _recipient_block(session: Session, delivery: t.Delivery, channel: t.Channel) -> str | None:
    subscriber = session.get(t.Subscriber, delivery.subscriber_id)
    if subscriber is None:
        return "cancelled: subscriber deleted"
    if subscriber.suppressed_reason:
        return f"cancelled: address suppressed ({subscriber.suppressed_reason})"
    membership = session.scalars(
        select(t.Membership).where(
            t.Membership.subscriber_id == subscriber.id,
            t.Membership.list_id == channel.config.get("list_id"),
        )
    ).first()
    if membership is None or membership.status != "subscribed":
        return "cancelled: recipient unsubscribed"
    return None


def record_sent(
    session: Session,
    delivery_id: int,
    *,
    remote_id: str,
    url: str | None,
    now: datetime,
) -> None:
    """A post went out: the row, an attempt and an audit event (newsletter recipients use
    record_recipient_sent, which writes the row only)."""
    session.connection().execute(
        _sent_query(),
        {"delivery_id": delivery_id, "remote_id": remote_id, "url": url, "now": now},
    )
    article_id = session.scalar(select(t.Delivery.article_id).where(t.Delivery.id == delivery_id))
    session.add(
        t.Attempt(delivery_id=delivery_id, started_at=now, outcome="sent", detail=remote_id)
    )
    session.add(
        t.AuditEvent(
            action="send",
            article_id=article_id,
            detail={"delivery_id": delivery_id, "remote_id": remote_id, "url": url},
        )
    )


def record_failure(
    session: Session,
    delivery_id: int,
    *,
    message: str,
    permanent: bool,
    ambiguous: bool,
    retry_after: float | None,
    max_attempts: int,
    now: datetime,
) -> S:
    """Map one failed call to the row's next state; returns it."""
    delivery = session.get(t.Delivery, delivery_id)
    assert delivery is not None
    if ambiguous:
        state = S.UNKNOWN
    elif permanent or delivery.attempts >= max_attempts:
        state = S.FAILED
    else:
        state = S.PENDING
        delivery.not_before = now + retry_delay(delivery.attempts, retry_after)
    delivery.state = state
    delivery.lease_until = None
    delivery.last_error = message
    delivery.updated_at = now
    session.add(
        t.Attempt(delivery_id=delivery_id, started_at=now, outcome=state.value, detail=message)
    )
    return state


def record_rate_limited(
    session: Session, delivery_id: int, *, until: datetime, reason: str, now: datetime
) -> S:
    """The platform refused the call for now ("too many requests, wait until ``until``"):
    back to ``pending`` with ``not_before = until``, and the attempt does not count, so an
    account that stays throttled for a long time delays its posts but never fails them.
    The send window still bounds the wait: past ``not_after`` the row expires as usual."""
    delivery = session.get(t.Delivery, delivery_id)
    assert delivery is not None
    if delivery.state not in (S.SENDING, S.UNKNOWN):
        # A person decided meanwhile. (``unknown`` is the sweeper's guess after a slow call;
        # the refusal tells us nothing was posted, so that row waits like the others.)
        return S(delivery.state)
    delivery.state = S.PENDING
    delivery.not_before = max(until, now)
    delivery.lease_until = None
    delivery.last_error = reason
    delivery.attempts = max(0, delivery.attempts - 1)
    delivery.updated_at = now
    # The journal's outcome is the row's next state, as for failures; the detail says why.
    session.add(
        t.Attempt(delivery_id=delivery_id, started_at=now, outcome=S.PENDING.value, detail=reason)
    )
    return S.PENDING


def hold(session: Session, delivery_id: int, *, reason: str, now: datetime) -> None:
    """Put a row back to ``pending`` with nothing sent (the channel needs reconnecting)."""
    delivery = session.get(t.Delivery, delivery_id)
    assert delivery is not None
    delivery.state = S.PENDING
    delivery.lease_until = None
    delivery.last_error = reason
    delivery.attempts = max(0, delivery.attempts - 1)
    delivery.updated_at = now


def defer(
    session: Session, delivery_id: int, *, until: datetime, reason: str, now: datetime
) -> bool:
    """Hand a dispatched row back, due again at ``until`` (the account's rate limit): not an
    attempt, nothing sent. False when the row is no longer the dispatcher's claim."""
    result = session.execute(
        update(t.Delivery)
        .where(t.Delivery.id == delivery_id, t.Delivery.state == S.CLAIMED)
        .values(
            state=S.PENDING, not_before=until, lease_until=None, last_error=reason, updated_at=now
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def sweep(session: Session, *, now: datetime) -> dict[str, int]:
    """Return expired claims to ``pending`` and make stuck ``sending`` rows ``unknown``."""
    returned = session.execute(
        update(t.Delivery)
        .where(t.Delivery.state == S.CLAIMED, t.Delivery.lease_until < now)
        .values(state=S.PENDING, lease_until=None, updated_at=now)
    ).rowcount  # type: ignore[attr-defined]
    stuck = session.execute(
        update(t.Delivery)
        .where(t.Delivery.state == S.SENDING, t.Delivery.lease_until < now)
        .values(
            state=S.UNKNOWN,
            lease_until=None,
            updated_at=now,
            last_error="the worker stopped during the call: outcome unknown",
        )
    ).rowcount  # type: ignore[attr-defined]
    expired = expire_overdue(session, now=now)
    return {"returned": returned or 0, "unknown": stuck or 0, "expired": expired}


def claim_unknown_for_reconcile(
    session: Session, *, kinds: Sequence[str], now: datetime, lease: timedelta, limit: int = 50
) -> list[int]:
    """Unknown rows of channels that can check the remote side, leased to one reconciler."""
    query = _lock(
        select(t.Delivery.id)
        .join(t.Channel, t.Channel.id == t.Delivery.channel_id)
        .where(
            t.Delivery.state == S.UNKNOWN,
            t.Channel.kind.in_(list(kinds)),
            or_(t.Delivery.lease_until.is_(None), t.Delivery.lease_until < now),
        )
        .limit(limit),
        session,
    )
    ids: list[int] = list(session.scalars(query))
    if ids:
        session.execute(
            update(t.Delivery)
            .where(and_(t.Delivery.id.in_(ids), t.Delivery.state == S.UNKNOWN))
            .values(lease_until=now + lease)
        )
    return ids


def resolve_unknown(
    session: Session,
    delivery_id: int,
    *,
    sent: bool,
    remote_url: str | None,
    user_id: int | None,
    now: datetime,
) -> t.Delivery:
    """A person's decision on an ``unknown`` row: it did go out, or send it again."""
    delivery = session.get(t.Delivery, delivery_id)
    if delivery is None:
        raise LookupError(f"no delivery {delivery_id}")
    if delivery.state != S.UNKNOWN:
        raise ValueError(f"delivery {delivery_id} is {delivery.state}, not unknown")
    if sent:
        delivery.state = S.SENT
        delivery.remote_url = remote_url
        delivery.remote_id = delivery.remote_id or "resolved-by-hand"
    else:
        delivery.state = S.PENDING
        delivery.not_before = now
    delivery.lease_until = None
    delivery.updated_at = now
    session.add(
        t.AuditEvent(
            user_id=user_id,
            action="resolve",
            article_id=delivery.article_id,
            detail={"delivery_id": delivery_id, "sent": sent, "url": remote_url},
        )
    )
    return delivery


def counts_by_state(session: Session, article_id: int | None = None) -> dict[str, int]:
    query = select(t.Delivery.state, func.count()).group_by(t.Delivery.state)
    if article_id is not None:
        query = query.where(t.Delivery.article_id == article_id)
    return {state: count for state, count in session.execute(query).all()}
