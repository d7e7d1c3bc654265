"""Users of the dashboard, CLI and API: roles, argon2 password hashes and API tokens."""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from distributor.domain import Role
from distributor.storage import tables as t

_hasher = PasswordHasher()


class AccountError(ValueError):
    pass


def token_hash(token: str) -> str:
    # API tokens are 256 random bits, so a fast hash is enough to keep them unusable at rest.
    return hashlib.sha256(token.encode()).hexdigest()


def add_user(
    session: Session, email: str, *, name: str, role: str, password: str | None
) -> tuple[t.User, str]:
    """Create a user; returns it with a fresh API token (shown once, stored hashed)."""
    try:
        role = Role(role).value
    except ValueError:
        raise AccountError(f"unknown role {role!r}: use editor, approver or admin") from None
    email = email.strip().lower()
    if "@" not in email:
        raise AccountError(f"not an email address: {email!r}")
    if session.scalars(select(t.User).where(t.User.email == email)).first():
        raise AccountError(f"a user {email} already exists")
    token = secrets.token_urlsafe(32)
    user = t.User(
        email=email,
        name=name or email,
        role=role,
        password_hash=_hasher.hash(password) if password else None,
        api_token_hash=token_hash(token),
    )
    session.add(user)
    session.flush()
    session.add(
        t.AuditEvent(user_id=user.id, action="user_add", detail={"email": email, "role": role})
    )
    return user, token


def user_by_email(session: Session, email: str) -> t.User:
    user = session.scalars(select(t.User).where(t.User.email == email.strip().lower())).first()
    if user is None:
        raise AccountError(f"no user {email} (add one with `distributor user add`)")
    return user


def user_by_token(session: Session, token: str) -> t.User | None:
    return session.scalars(select(t.User).where(t.User.api_token_hash == token_hash(token))).first()


def check_password(user: t.User, password: str) -> bool:
    if not user.password_hash:
        return False
    try:
        return _hasher.verify(user.password_hash, password)
    except VerificationError:
        return False


def set_password(user: t.User, password: str) -> None:
    if len(password) < 10:
        raise AccountError("a password needs at least 10 characters")
    user.password_hash = _hasher.hash(password)
