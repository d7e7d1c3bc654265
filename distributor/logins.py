"""Dashboard logins: password check with a rate limit, server-side sessions, audit of every try.

A session is a random token in the browser's cookie; the database keeps only its sha256 and a
CSRF token, so logging out (or an admin resetting a password) ends it everywhere at once."""

from __future__ import annotations

import hashlib
import secrets
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from distributor import accounts
from distributor.storage import tables as t

SESSION_HOURS = 12
WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_ADDRESS = 5
MAX_FAILURES_PER_CLIENT = 20


_HASHER = PasswordHasher()


@lru_cache(maxsize=1)
def _placeholder_hash() -> str:
    return _HASHER.hash(secrets.token_urlsafe(16))


class LoginRefused(PermissionError):
    """Wrong address or password: one message for both, so addresses cannot be probed."""


class TooManyAttempts(PermissionError):
    pass


@dataclass(frozen=True)
class Actor:
    """Who is acting in a request: a snapshot, free of the database session."""

    id: int
    email: str
    name: str
    role: str
    csrf_token: str | None = None


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _failures(session: Session, column: Any, value: str, since: datetime) -> int:
    count = session.scalar(
        select(func.count())
        .select_from(t.LoginAttempt)
        .where(
            column == value,
            t.LoginAttempt.succeeded.is_(False),
            t.LoginAttempt.at >= since,
        )
    )
    return int(count or 0)


def log_in(
    session: Session, email: str, password: str, *, ip: str, now: datetime
) -> tuple[t.User, str]:
    """Check the password; returns the user and a new session token for the cookie.

    Raises TooManyAttempts before looking at the password once an address (or a client) has
    failed too often in the last 15 minutes, and LoginRefused for a wrong address or password.
    Every try is counted and written to the audit log."""
    address = email.strip().lower()[:320]
    since = now - WINDOW
    _prune(session, now)
    if (
        _failures(session, t.LoginAttempt.email, address, since) >= MAX_FAILURES_PER_ADDRESS
        or _failures(session, t.LoginAttempt.ip, ip, since) >= MAX_FAILURES_PER_CLIENT
    ):
        _record(session, address, ip, None, now, ok=False, reason="rate limited")
        raise TooManyAttempts(
            "too many failed logins: wait 15 minutes, or ask an admin to reset your password"
        )
    user = session.scalars(select(t.User).where(t.User.email == address)).first()
    if user is None:
        # Spend the same time as for a real address, so timing does not reveal which exist.
        with suppress(VerificationError):
            _HASHER.verify(_placeholder_hash(), password)
    if user is None or not accounts.check_password(user, password):
        _record(session, address, ip, user, now, ok=False, reason="wrong address or password")
        raise LoginRefused("wrong email address or password")
    _record(session, address, ip, user, now, ok=True, reason="")
    token = secrets.token_urlsafe(32)
    session.add(
        t.WebSession(
            id=_digest(token),
            user_id=user.id,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            expires_at=now + timedelta(hours=SESSION_HOURS),
        )
    )
    return user, token


def _prune(session: Session, now: datetime) -> None:
    """Old attempts and expired sessions serve nobody; the audit log keeps the history."""
    session.execute(delete(t.LoginAttempt).where(t.LoginAttempt.at < now - timedelta(days=1)))
    session.execute(delete(t.WebSession).where(t.WebSession.expires_at < now))


def _record(
    session: Session,
    email: str,
    ip: str,
    user: t.User | None,
    now: datetime,
    *,
    ok: bool,
    reason: str,
) -> None:
    session.add(t.LoginAttempt(email=email, ip=ip[:64], succeeded=ok, at=now))
    detail = {"email": email, "ip": ip}
    if reason:
        detail["reason"] = reason
    session.add(
        t.AuditEvent(
            user_id=user.id if user else None,
            action="login" if ok else "login_failed",
            detail=detail,
            at=now,
        )
    )


def actor_for(session: Session, token: str, *, now: datetime) -> Actor | None:
    """The user behind a session cookie, or None when it is unknown or expired."""
    row = session.execute(
        select(t.WebSession, t.User)
        .join(t.User, t.User.id == t.WebSession.user_id)
        .where(t.WebSession.id == _digest(token))
    ).first()
    if row is None:
        return None
    web_session, user = row
    if web_session.expires_at <= now:
        return None
    return Actor(user.id, user.email, user.name, user.role, web_session.csrf_token)


def log_out(session: Session, token: str, user_id: int | None) -> None:
    session.execute(delete(t.WebSession).where(t.WebSession.id == _digest(token)))
    if user_id is not None:
        session.add(t.AuditEvent(user_id=user_id, action="logout", detail={}))


def end_sessions_of(session: Session, user_id: int) -> None:
    """After a password reset nobody stays logged in with the old password."""
    session.execute(delete(t.WebSession).where(t.WebSession.user_id == user_id))


def actor_of(user: t.User) -> Actor:
    return Actor(user.id, user.email, user.name, user.role)
