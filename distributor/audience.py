"""Subscribers as the comms team manages them: lists with counts, search, add, unsubscribe,
CSV import with a report of rejected rows, and export. Listing is paginated and counted in
grouped queries, so 100,000 subscribers cost the same few queries as ten."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from distributor.approval import require_role
from distributor.domain import Role
from distributor.paging import Page, bounds
from distributor.storage import tables as t
from distributor.subscribers import (
    ImportReport,
    SubscriberError,
    import_csv,
    normalise_email,
    subscribe,
    unsubscribe,
)
from distributor.unsubscribe import UnsubscribeTarget

STAFF = (Role.EDITOR, Role.APPROVER, Role.ADMIN)
MANAGERS = (Role.APPROVER, Role.ADMIN)


@dataclass(frozen=True)
class ListView:
    id: int
    name: str
    subscribed: int
    unsubscribed: int


@dataclass(frozen=True)
class SubscriberView:
    id: int
    email: str
    name: str
    suppressed: str | None
    created_at: datetime
    lists: dict[str, str]  # list name → subscribed | unsubscribed


def lists_with_counts(session: Session) -> list[ListView]:
    m = t.Membership
    counts: dict[tuple[int, str], int] = {
        (list_id, status): n
        for list_id, status, n in session.execute(
            select(m.list_id, m.status, func.count()).group_by(m.list_id, m.status)
        ).all()
    }
    return [
        ListView(
            row.id,
            row.name,
            counts.get((row.id, "subscribed"), 0),
            counts.get((row.id, "unsubscribed"), 0),
        )
        for row in session.scalars(select(t.MailingList).order_by(t.MailingList.name))
    ]


def search(
    session: Session,
    *,
    query: str = "",
    list_id: int | None = None,
    page: int = 1,
    per_page: int = 50,
) -> Page[SubscriberView]:
    page, per_page = bounds(page, per_page)
    s, m = t.Subscriber, t.Membership
    where: list[ColumnElement[bool]] = []
    needle = query.strip().lower()
    if needle:
        escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
        where.append(
            or_(s.email.like(pattern, escape="\\"), func.lower(s.name).like(pattern, escape="\\"))
        )
    if list_id is not None:
        where.append(s.id.in_(select(m.subscriber_id).where(m.list_id == list_id)))
    total = int(session.scalar(select(func.count()).select_from(s).where(*where)) or 0)
    rows = list(
        session.scalars(
            select(s).where(*where).order_by(s.email).limit(per_page).offset((page - 1) * per_page)
        )
    )
    memberships: dict[int, dict[str, str]] = {}
    if rows:
        for subscriber_id, name, status in session.execute(
            select(m.subscriber_id, t.MailingList.name, m.status)
            .join(t.MailingList, t.MailingList.id == m.list_id)
            .where(m.subscriber_id.in_([r.id for r in rows]))
        ).all():
            memberships.setdefault(subscriber_id, {})[name] = status
    return Page(
        [
            SubscriberView(
                r.id, r.email, r.name, r.suppressed_reason, r.created_at, memberships.get(r.id, {})
            )
            for r in rows
        ],
        total,
        page,
        per_page,
    )


def _list(session: Session, list_id: int) -> t.MailingList:
    found = session.get(t.MailingList, list_id)
    if found is None:
        raise LookupError(f"no mailing list {list_id}")
    return found


def add(session: Session, user: t.User, list_id: int, email: str, name: str = "") -> bool:
    """Subscribe an address (True if it is newly on the list); the address must be valid."""
    require_role(user, *STAFF)
    mailing_list = _list(session, list_id)
    added = subscribe(session, mailing_list, email, name)
    session.add(
        t.AuditEvent(
            user_id=user.id,
            action="subscribe",
            detail={"list": mailing_list.name, "email": normalise_email(email), "new": added},
        )
    )
    return added


def unsubscribe_by_staff(session: Session, user: t.User, subscriber_id: int, list_id: int) -> bool:
    """Take an address off a list on its owner's request; idempotent."""
    require_role(user, *STAFF)
    return unsubscribe(
        session,
        UnsubscribeTarget(subscriber_id, list_id),
        via="dashboard",
        user_id=user.id,
        missing="this address is not on that list",
    )


MAX_IMPORT_BYTES = 20_000_000


def import_file(session: Session, user: t.User, list_id: int, data: bytes) -> ImportReport:
    require_role(user, *MANAGERS)
    if len(data) > MAX_IMPORT_BYTES:
        raise SubscriberError("the file is larger than 20 MB; split it")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SubscriberError("the file is not UTF-8 text; save it as CSV UTF-8") from None
    mailing_list = _list(session, list_id)
    report = import_csv(session, mailing_list, text)
    session.add(
        t.AuditEvent(
            user_id=user.id,
            action="import",
            detail={
                "list": mailing_list.name,
                "added": report.added,
                "already": report.already,
                "rejected": len(report.rejected),
            },
        )
    )
    return report


def start_export(session: Session, user: t.User, list_id: int) -> None:
    """Check who asks and for which list, and write it down, before any row leaves."""
    require_role(user, *MANAGERS)
    mailing_list = _list(session, list_id)
    session.add(t.AuditEvent(user_id=user.id, action="export", detail={"list": mailing_list.name}))


def export_rows(session: Session, list_id: int) -> Iterator[str]:
    """CSV text of a list (email, name, status, changed_at), streamed in chunks of rows;
    call ``start_export`` first."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["email", "name", "status", "changed_at"])
    rows = session.execute(
        select(t.Subscriber.email, t.Subscriber.name, t.Membership.status, t.Membership.changed_at)
        .join(t.Membership, t.Membership.subscriber_id == t.Subscriber.id)
        .where(t.Membership.list_id == list_id)
        .order_by(t.Subscriber.id)
        .execution_options(yield_per=2000)
    )
    for n, (email, name, status, changed) in enumerate(rows, start=1):
        writer.writerow([email, _cell(name), status, changed.isoformat()])
        if n % 2000 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _cell(value: str) -> str:
    """Spreadsheets run cells starting with = + - @ as formulas; quote them out."""
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value
