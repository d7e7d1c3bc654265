"""Own mailing lists: subscribers, memberships, CSV import and the one-click unsubscribe."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from email.errors import HeaderParseError
from email.headerregistry import Address

from sqlalchemy import select
from sqlalchemy.orm import Session

from distributor.storage import tables as t
from distributor.storage.tables import utcnow
from distributor.unsubscribe import UnsubscribeTarget


class SubscriberError(ValueError):
    pass


@dataclass
class ImportReport:
    added: int = 0
    already: int = 0
    rejected: list[tuple[int, str, str]] = field(default_factory=list)  # (line, value, reason)


def normalise_email(value: str) -> str:
    """A single bare address, lower-cased domain; anything else is refused (no header tricks)."""
    raw = value.strip()
    if not raw or any(c in raw for c in "\r\n\t <>,;\"'"):
        raise SubscriberError(f"not a single email address: {value!r}")
    try:
        address = Address(addr_spec=raw)
    except (HeaderParseError, ValueError, IndexError):
        raise SubscriberError(f"not a valid email address: {value!r}") from None
    if not address.username or "." not in address.domain:
        raise SubscriberError(f"not a valid email address: {value!r}")
    return f"{address.username}@{address.domain.lower()}"


def get_or_create_list(session: Session, name: str) -> t.MailingList:
    found = session.scalars(select(t.MailingList).where(t.MailingList.name == name)).first()
    if found:
        return found
    mailing_list = t.MailingList(name=name)
    session.add(mailing_list)
    session.flush()
    return mailing_list


def subscribe(session: Session, mailing_list: t.MailingList, email: str, name: str = "") -> bool:
    """True if the address was newly subscribed to the list."""
    address = normalise_email(email)
    subscriber = session.scalars(select(t.Subscriber).where(t.Subscriber.email == address)).first()
    if subscriber is None:
        subscriber = t.Subscriber(email=address, name=name.strip()[:200])
        session.add(subscriber)
        session.flush()
    membership = session.scalars(
        select(t.Membership).where(
            t.Membership.list_id == mailing_list.id, t.Membership.subscriber_id == subscriber.id
        )
    ).first()
    if membership is None:
        session.add(t.Membership(list_id=mailing_list.id, subscriber_id=subscriber.id))
        return True
    if membership.status != "subscribed":
        membership.status = "subscribed"
        membership.changed_at = utcnow()
        return True
    return False


def import_csv(session: Session, mailing_list: t.MailingList, text: str) -> ImportReport:
    """Rows of ``email[,name]`` (a header row with ``email`` is recognised); bad rows are
    reported with their line number and kept out, good rows are all imported."""
    report = ImportReport()
    reader = csv.reader(io.StringIO(text))
    for line_no, row in enumerate(reader, start=1):
        if not row or not any(cell.strip() for cell in row):
            continue
        if line_no == 1 and row[0].strip().lower() in {"email", "e-mail", "address"}:
            continue
        name = row[1] if len(row) > 1 else ""
        try:
            if subscribe(session, mailing_list, row[0], name):
                report.added += 1
            else:
                report.already += 1
        except SubscriberError as error:
            report.rejected.append((line_no, row[0], str(error)))
    return report


def unsubscribe(
    session: Session,
    target: UnsubscribeTarget,
    *,
    via: str,
    user_id: int | None = None,
    missing: str = "this subscription does not exist",
) -> bool:
    """Idempotent: True the first time, False when already unsubscribed. ``user_id`` is the
    staff member acting on the subscriber's request (None: the subscriber's own link)."""
    membership = session.scalars(
        select(t.Membership).where(
            t.Membership.list_id == target.list_id,
            t.Membership.subscriber_id == target.subscriber_id,
        )
    ).first()
    if membership is None:
        raise SubscriberError(missing)
    if membership.status == "unsubscribed":
        return False
    membership.status = "unsubscribed"
    membership.changed_at = utcnow()
    session.add(
        t.AuditEvent(
            user_id=user_id,
            action="unsubscribe",
            detail={"subscriber_id": target.subscriber_id, "list_id": target.list_id, "via": via},
        )
    )
    return True
