"""A test email of a newsletter rendition to the reviewer's own address.

It is a real external effect, so it goes out through the channel's own transport (its SMTP
server, or its outbox) and is written to the audit log, whatever the outcome. It is not a
delivery: no subscriber, no ledger row, its own Message-ID, and "[Test]" in the subject.
The message is built in one transaction and the outcome recorded in another: no database
lock is held while the mail server answers."""

from __future__ import annotations

import email.utils
import secrets
from dataclasses import dataclass
from typing import Any

from distributor.approval import require_role
from distributor.channels.base import ChannelError
from distributor.config import Settings
from distributor.domain import EmailRendition, Role
from distributor.mail import InvalidRecipient, InvalidTemplate, MessageTemplate
from distributor.review import rendition_of
from distributor.storage import Database
from distributor.storage import tables as t


class TestEmailError(ValueError):
    pass


@dataclass(frozen=True)
class TestEmailResult:
    sent: bool
    recipient: str
    detail: str


@dataclass(frozen=True)
class _Prepared:
    raw: bytes
    sender: str
    recipient: str
    transport: str
    channel_name: str
    smtp: Any
    article_id: int
    rendition_id: int
    content_hash: str


def send_test_email(
    db: Database, article_id: int, rendition_id: int, user_id: int, settings: Settings
) -> TestEmailResult:
    with db.session() as session:
        user = session.get(t.User, user_id)
        if user is None:
            raise LookupError(f"no user {user_id}")
        prepared = _prepare(session, article_id, rendition_id, user, settings)
    try:
        result = TestEmailResult(True, prepared.recipient, _send(prepared, settings))
    except ChannelError as error:
        result = TestEmailResult(False, prepared.recipient, error.message)
    with db.session() as session:
        session.add(
            t.AuditEvent(
                user_id=user_id,
                action="test_email" if result.sent else "test_email_failed",
                article_id=prepared.article_id,
                detail={
                    "rendition_id": prepared.rendition_id,
                    "content_hash": prepared.content_hash,
                    "to": prepared.recipient,
                    "result": result.detail,
                },
            )
        )
    return result


def _prepare(
    session: Any, article_id: int, rendition_id: int, user: t.User, settings: Settings
) -> _Prepared:
    from distributor.channels.smtp import SmtpConfig
    from distributor.sending import channel_config

    require_role(user, Role.EDITOR, Role.APPROVER, Role.ADMIN)
    rendition = rendition_of(session, article_id, rendition_id)
    channel = session.get(t.Channel, rendition.channel_id)
    payload = rendition.payload or {}
    if channel is None or payload.get("kind") != "email":
        raise TestEmailError("only a newsletter rendition can be sent as a test email")
    if rendition.error:
        raise TestEmailError(f"this newsletter did not render: {rendition.error}")
    sender = email.utils.parseaddr(settings.mail_from)[1]
    domain = sender.rpartition("@")[2] or "localhost"
    # No subscription stands behind a test message: its unsubscribe link says so.
    nowhere = f"{settings.public_url.rstrip('/')}/u/test-message"
    try:
        template = MessageTemplate.build(
            EmailRendition(
                subject=f"[Test] {payload['subject']}",
                preheader=payload.get("preheader", ""),
                html=payload["html"],
                text=payload["text"],
            ),
            sender=settings.mail_from,
            list_id=f"test.{domain}",
            message_id_domain=domain,
        )
        raw = template.personalise(
            to_email=user.email,
            to_name=user.name,
            message_id=f"test-{rendition.id}-{secrets.token_hex(8)}",
            unsubscribe_url=nowhere,
            preferences_url=nowhere,
        )
    except (InvalidTemplate, InvalidRecipient) as error:
        raise TestEmailError(f"cannot build the test email: {error}") from None
    transport = channel.config.get("transport", "smtp")
    return _Prepared(
        raw=raw,
        sender=template.envelope_sender,
        recipient=user.email,
        transport=transport,
        channel_name=channel.name,
        smtp=None if transport == "outbox" else channel_config(channel, SmtpConfig, settings),
        article_id=rendition.article_id,
        rendition_id=rendition.id,
        content_hash=rendition.content_hash,
    )


def _send(prepared: _Prepared, settings: Settings) -> str:
    if prepared.transport == "outbox":
        from distributor.newsletter import OutboxTransport
        from distributor.sending import outbox_path

        directory = outbox_path(settings, f"{prepared.channel_name}-tests")
        OutboxTransport(directory).submit(
            prepared.raw, sender=prepared.sender, recipient=prepared.recipient
        )
        return f"written to the outbox {directory}"
    from distributor.channels.smtp import SmtpConnection

    with SmtpConnection(prepared.smtp) as connection:
        connection.send(prepared.raw, sender=prepared.sender, recipient=prepared.recipient)
    return f"sent to {prepared.recipient}"
