"""The audit log as people read it: newest first, filtered by article and by user."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from distributor.approval import require_role
from distributor.domain import Role
from distributor.paging import Page, bounds
from distributor.storage import tables as t


@dataclass(frozen=True)
class AuditRow:
    id: int
    at: datetime
    user: str | None
    action: str
    article_id: int | None
    detail: dict[str, Any]


def audit_page(
    session: Session,
    viewer: t.User,
    *,
    article_id: int | None = None,
    user_email: str | None = None,
    action: str | None = None,
    page: int = 1,
    per_page: int = 50,
) -> Page[AuditRow]:
    require_role(viewer, Role.APPROVER, Role.ADMIN)
    page, per_page = bounds(page, per_page)
    a = t.AuditEvent
    where: list[ColumnElement[bool]] = []
    if article_id is not None:
        where.append(a.article_id == article_id)
    if user_email:
        user_id = session.scalar(
            select(t.User.id).where(t.User.email == user_email.strip().lower())
        )
        if user_id is None:
            raise LookupError(f"no user {user_email}")
        where.append(a.user_id == user_id)
    if action:
        where.append(a.action == action)
    total = int(session.scalar(select(func.count()).select_from(a).where(*where)) or 0)
    rows = session.execute(
        select(a, t.User.email)
        .outerjoin(t.User, t.User.id == a.user_id)
        .where(*where)
        .order_by(a.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return Page(
        [AuditRow(e.id, e.at, email, e.action, e.article_id, e.detail or {}) for e, email in rows],
        total,
        page,
        per_page,
    )
