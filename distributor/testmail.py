"""A test email of a newsletter rendition to the reviewer's own address.

It is a real external effect, so it goes out through the channel's own transport (its SMTP
server, or its outbox) and is written to the audit log, whatever the outcome. It is not a
delivery: no subscriber, no ledger row, its own Message-ID, and "[Test]" in the subject."""

from __future__ import annotations

import email.utils
import secrets
from dataclasses import dataclass

from sqlalchemy.orm import Session

from distributor.approval import require_role
from distributor.channels.base import ChannelError
from distributor.config import Settings
from distributor.domain import EmailRendition, Role
from distributor.mail import InvalidRecipient, InvalidTemplate, MessageTemplate
from distributor.review import rendition_of
from distributor.storage import tables as t


class TestEmailError(ValueError):
    pass


@dataclass(frozen=True)
class TestEmailResult:
    sent: bool
    recipient: str
    detail: str


def send_test_email(
    session: Session, article_id: int, rendition_id: int, user: t.User, settings: Settings
) -> TestEmailResult:
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
    try:
        detail = _send(channel, raw, template.envelope_sender, user.email, settings)
        result = TestEmailResult(True, user.email, detail)
    except ChannelError as error:
        result = TestEmailResult(False, user.email, error.message)
    session.add(
        t.AuditEvent(
            user_id=user.id,
            action="test_email" if result.sent else "test_email_failed",
            article_id=rendition.article_id,
            detail={
                "rendition_id": rendition.id,
                "content_hash": rendition.content_hash,
                "to": user.email,
                "result": result.detail,
            },
        )
    )
    return result


def _send(channel: t.Channel, raw: bytes, sender: str, recipient: str, settings: Settings) -> str:
    from distributor.sending import channel_config, outbox_path

    if channel.config.get("transport") == "outbox":
        from distributor.newsletter import OutboxTransport

        directory = outbox_path(settings, f"{channel.name}-tests")
        OutboxTransport(directory).submit(raw, sender=sender, recipient=recipient)
        return f"written to the outbox {directory}"
    from distributor.channels.smtp import SmtpConfig, SmtpConnection

    config = channel_config(channel, SmtpConfig, settings)
    with SmtpConnection(config) as connection:  # type: ignore[arg-type]
        connection.send(raw, sender=sender, recipient=recipient)
    return f"sent to {recipient}"
