"""Connected channels as the dashboard shows them: status, token expiry with a warning ahead
of it, and a "test connection" that asks the platform (Channel.check) without posting."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from distributor.approval import require_role
from distributor.channels.base import ChannelError
from distributor.config import Settings
from distributor.domain import Role
from distributor.storage import Database
from distributor.storage import tables as t

EXPIRY_WARNING = timedelta(days=14)


@dataclass(frozen=True)
class ChannelView:
    id: int
    name: str
    kind: str
    status: str
    status_detail: str
    enabled: bool
    token_expires_at: datetime | None
    expiry_warning: str | None


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    detail: str


def expiry_warning(
    expires_at: datetime | None, now: datetime, ahead: timedelta = EXPIRY_WARNING
) -> str | None:
    if expires_at is None:
        return None
    if expires_at <= now:
        return "the token has expired: reconnect this channel"
    if expires_at - now <= ahead:
        days = max(1, (expires_at - now).days)
        return f"the token expires in {days} day{'s' if days != 1 else ''}: reconnect soon"
    return None


def list_channels(
    session: Session, *, now: datetime, warn_days: int | None = None
) -> list[ChannelView]:
    """Every channel; ``warn_days`` is how early an expiring token is flagged."""
    ahead = timedelta(days=warn_days) if warn_days is not None else EXPIRY_WARNING
    views = []
    for row in session.scalars(select(t.Channel).order_by(t.Channel.id)):
        expires = row.token_expires_at
        views.append(
            ChannelView(
                row.id,
                row.name,
                row.kind,
                row.status,
                row.status_detail,
                row.enabled,
                expires,
                expiry_warning(expires, now, ahead),
            )
        )
    return views


def check_channel(db: Database, channel_id: int, user_id: int, settings: Settings) -> CheckResult:
    """Connect and identify, without publishing anything; the outcome goes to the audit log.
    No transaction is open while the platform answers."""
    with db.session() as session:
        user = session.get(t.User, user_id)
        if user is None:
            raise LookupError(f"no user {user_id}")
        require_role(user, Role.EDITOR, Role.APPROVER, Role.ADMIN)
        row = session.get(t.Channel, channel_id)
        if row is None:
            raise LookupError(f"no channel {channel_id}")
        name = row.name
        try:
            probe: Callable[[], str] | None = _probe(row, db, settings)
            problem = ""
        except ValueError as error:  # settings that no longer validate or decrypt
            probe, problem = None, f"the channel's settings are not usable: {error}"
    if probe is None:
        result = CheckResult(False, problem)
    else:
        try:
            result = CheckResult(True, probe())
        except ChannelError as error:
            result = CheckResult(False, error.message)
    with db.session() as session:
        session.add(
            t.AuditEvent(
                user_id=user_id,
                action="channel_check",
                detail={"channel": name, "ok": result.ok, "detail": result.detail},
            )
        )
    return result


def _probe(row: t.Channel, db: Database, settings: Settings) -> Callable[[], str]:
    """What "test connection" will call, built from the row while it is at hand."""
    from distributor.sending import build_channel, channel_config, outbox_path

    if row.kind == "email":
        if row.config.get("transport") == "outbox":
            directory = outbox_path(settings, row.name)
            return lambda: f"writes .eml files to {directory}"
        from distributor.channels.smtp import SmtpConfig, SmtpConnection

        config = channel_config(row, SmtpConfig, settings)

        def smtp_check() -> str:
            with SmtpConnection(config) as connection:  # type: ignore[arg-type]
                return connection.check()

        return smtp_check
    return build_channel(row, db, settings).check
