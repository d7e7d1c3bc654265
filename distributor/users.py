"""Admins manage the people who use the dashboard: add them with a role, reset passwords."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from distributor import accounts, logins
from distributor.approval import require_role
from distributor.domain import Role
from distributor.storage import tables as t


@dataclass(frozen=True)
class UserView:
    id: int
    email: str
    name: str
    role: str
    created_at: datetime


def list_users(session: Session, actor: t.User) -> list[UserView]:
    require_role(actor, Role.ADMIN)
    return [
        UserView(u.id, u.email, u.name, u.role, u.created_at)
        for u in session.scalars(select(t.User).order_by(t.User.email))
    ]


def create_user(
    session: Session, actor: t.User, *, email: str, name: str, role: str, password: str
) -> tuple[t.User, str]:
    """A new user with a first password; returns it with its API token (shown once)."""
    require_role(actor, Role.ADMIN)
    if len(password) < 10:
        raise accounts.AccountError("a password needs at least 10 characters")
    user, token = accounts.add_user(session, email, name=name, role=role, password=password)
    session.add(t.AuditEvent(user_id=actor.id, action="user_added", detail={"email": user.email}))
    return user, token


def reset_password(session: Session, actor: t.User, user_id: int, password: str) -> t.User:
    require_role(actor, Role.ADMIN)
    user = session.get(t.User, user_id)
    if user is None:
        raise LookupError(f"no user {user_id}")
    accounts.set_password(user, password)
    logins.end_sessions_of(session, user.id)
    session.add(
        t.AuditEvent(user_id=actor.id, action="password_reset", detail={"email": user.email})
    )
    return user
