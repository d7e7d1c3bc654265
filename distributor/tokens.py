"""Access-token lifecycle: the expiry stored per channel, one refresh after the platform
says the token expired, and a daily warning before a token that cannot renew itself expires.

The expiry lives in ``channels.token_expires_at``: set when the channel is added (from the
adapter's ``token_expires_at()``, else its ``token_lifetime`` counted from now) and after
every refresh. A refresh runs under the channel row's lock and is skipped when another
worker refreshed first (X refresh tokens are single-use: a second refresh with the old one
would be refused and wrongly disconnect the channel).

The warning is a log line (name, kind and date only, never a secret), an audit event
``token_expiring`` once per expiry (what the dashboard shows, with ``expiring_channels``),
and, when ``token_warning_email_channel`` names an SMTP email channel, one plain message to
every admin through that channel's relay.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate, make_msgid, parseaddr
from typing import Any

import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from distributor.channels import SOCIAL_CHANNELS, channel_class
from distributor.channels.base import Channel, MemoryState, TokenGrant
from distributor.config import Settings
from distributor.domain import Role
from distributor.secrets import open_config, seal_config
from distributor.storage import Database
from distributor.storage import tables as t
from distributor.storage.tables import utcnow

log = logging.getLogger(__name__)


def initial_expiry(cls: type[Channel], config: Any, now: datetime) -> datetime | None:
    """When a newly added channel's token expires: what the adapter knows from its config,
    else its platform's fixed lifetime counted from now (LinkedIn: 60 days)."""
    expires: datetime | None = None
    if cls.token_expires_at is not Channel.token_expires_at:
        # Adapters do no I/O when built; this session is never used.
        expires = cls(config, requests.Session(), MemoryState()).token_expires_at()
    lifetime: timedelta | None = getattr(cls, "token_lifetime", None)
    if expires is None and lifetime is not None:
        expires = now + lifetime
    return expires


def refresh_credentials(
    db: Database, settings: Settings, channel_id: int, *, seen: dict[str, Any], channel: Channel
) -> None:
    """Refresh ``channel``'s token once and store the new, sealed secrets, unless the row's
    config differs from ``seen`` (another worker refreshed meanwhile: use theirs).

    Raises what ``channel.refresh()`` raises: ``AuthExpired`` when the platform refuses."""
    key = settings.secret_key.get_secret_value()
    with db.session() as session:
        query = select(t.Channel).where(t.Channel.id == channel_id)
        if db.is_postgresql:
            query = query.with_for_update()  # SQLite: the session's BEGIN IMMEDIATE
        row = session.scalars(query).one()
        if row.config != seen:
            log.info("channel %s: credentials were refreshed by another worker", row.name)
            return
        grant = channel.refresh()
        store_grant(row, grant, key)
        session.add(
            t.AuditEvent(
                action="token_refreshed",
                detail={"channel": row.name, "expires_at": _iso(grant.expires_at)},
            )
        )
    log.info("channel %s: access token refreshed, expires %s", row.name, _iso(grant.expires_at))


def store_grant(row: t.Channel, grant: TokenGrant, secret_key: str) -> None:
    """Replace the granted fields in the row's sealed config, re-sealed, and its expiry."""
    cls = channel_class(row.kind)
    plain = open_config(row.config.get("settings", {}), secret_key)
    plain.update(grant.secrets)
    if "token_expires_at" in cls.Config.model_fields:
        plain["token_expires_at"] = grant.expires_at
    sealed = seal_config(cls.Config.model_validate(plain), secret_key)
    row.config = {**row.config, "settings": sealed}
    row.token_expires_at = grant.expires_at
    row.token_warned_for = None


def reconnect(
    session: Session, name: str, options: dict[str, Any], *, secret_key: str, now: datetime
) -> t.Channel:
    """A person's new credentials for a channel (after ``needs_reconnect`` or before its
    token expires): ``options`` replace those fields of its config, validated and sealed; the
    channel is ``ok`` again, so its held deliveries go out at the next dispatch."""
    row = session.scalars(select(t.Channel).where(t.Channel.name == name)).first()
    if row is None:
        raise LookupError(f"no channel named {name!r}")
    if row.kind not in SOCIAL_CHANNELS:
        raise ValueError(f"channel {name!r} is a {row.kind} channel; only networks reconnect")
    cls = channel_class(row.kind)
    plain = open_config(row.config.get("settings", {}), secret_key)
    plain.update(options)
    config = cls.Config.model_validate(plain)
    row.config = {**row.config, "settings": seal_config(config, secret_key)}
    row.token_expires_at = initial_expiry(cls, config, now)
    row.token_warned_for = None
    row.status, row.status_detail = "ok", ""
    session.add(
        t.AuditEvent(
            action="channel_reconnect",
            detail={"channel": name, "fields": sorted(options)},  # names only, never values
        )
    )
    return row


@dataclass(frozen=True)
class Expiring:
    channel: str
    kind: str
    expires_at: datetime

    def describe(self, now: datetime) -> str:
        if self.expires_at <= now:
            return f"channel {self.channel} ({self.kind}): its access token expired on {self.day}"
        days = (self.expires_at - now).days
        return (
            f"channel {self.channel} ({self.kind}): its access token expires on {self.day} "
            f"(in {days} day{'s' if days != 1 else ''}); reconnect it before then"
        )

    @property
    def day(self) -> str:
        return self.expires_at.strftime("%Y-%m-%d %H:%M UTC")


def _renews_itself(row: t.Channel) -> bool:
    """A channel holding a refresh token renews on its own (X); the others need a person."""
    if row.kind not in SOCIAL_CHANNELS:
        return False
    if channel_class(row.kind).refresh is Channel.refresh:
        return False
    return bool((row.config.get("settings") or {}).get("refresh_token"))


def expiring_channels(session: Session, *, now: datetime, days: int) -> list[t.Channel]:
    """Enabled channels whose token expires within ``days`` (or has expired) and will not
    renew itself: for the dashboard."""
    rows = session.scalars(
        select(t.Channel)
        .where(
            t.Channel.enabled.is_(True),
            t.Channel.token_expires_at.is_not(None),
            t.Channel.token_expires_at <= now + timedelta(days=days),
        )
        .order_by(t.Channel.token_expires_at)
    )
    return [row for row in rows if not _renews_itself(row)]


def warn_expiring_tokens(
    db: Database, settings: Settings, *, now: datetime | None = None
) -> list[Expiring]:
    """The daily check: log every expiring token; audit (and mail) each expiry once."""
    now = now or utcnow()
    fresh: list[Expiring] = []
    with db.session() as session:
        for row in expiring_channels(session, now=now, days=settings.token_warning_days):
            assert row.token_expires_at is not None
            expiring = Expiring(row.name, row.kind, row.token_expires_at)
            log.warning("%s", expiring.describe(now))
            if row.token_warned_for == row.token_expires_at:
                continue
            row.token_warned_for = row.token_expires_at
            session.add(
                t.AuditEvent(
                    action="token_expiring",
                    detail={
                        "channel": row.name,
                        "kind": row.kind,
                        "expires_at": _iso(row.token_expires_at),
                    },
                )
            )
            fresh.append(expiring)
    if fresh and settings.token_warning_email_channel:
        _mail_admins(db, settings, fresh, now)
    return fresh


def _mail_admins(db: Database, settings: Settings, expiring: list[Expiring], now: datetime) -> None:
    from distributor.channels.smtp import SmtpConfig, SmtpConnection

    name = settings.token_warning_email_channel
    key = settings.secret_key.get_secret_value()
    with db.session() as session:
        row = session.scalars(select(t.Channel).where(t.Channel.name == name)).first()
        admins = list(session.scalars(select(t.User.email).where(t.User.role == Role.ADMIN)))
        smtp_settings = (row.config.get("settings") or {}) if row is not None else {}
    if row is None or row.kind != "email" or not smtp_settings:
        log.error("token warning mail: %r is not an email channel sending over SMTP", name)
        return
    if not admins:
        log.warning("token warning mail: there is no admin user to tell")
        return
    config = SmtpConfig.model_validate(open_config(smtp_settings, key))
    sender = parseaddr(settings.mail_from)[1]
    body = "\n".join(e.describe(now) for e in expiring)
    try:
        with SmtpConnection(config) as smtp:
            for admin in admins:
                message = EmailMessage(policy=SMTP)
                message["From"] = settings.mail_from
                message["To"] = admin
                message["Subject"] = f"{len(expiring)} channel token(s) expire soon"
                message["Date"] = formatdate(localtime=False)
                message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
                message.set_content(
                    f"{body}\n\nReconnect these channels in the dashboard before they expire;"
                    " their posts are held until then.\n"
                )
                smtp.send(message.as_bytes(), sender=sender, recipient=admin)
    except Exception as error:  # a warning that cannot be mailed is still logged and audited
        log.error("token warning mail could not be sent: %s", error)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
