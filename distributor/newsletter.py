"""One newsletter being sent: the message rendered once, personalised per recipient, and the
transport (an SMTP connection, or an outbox of .eml files) opened once per batch."""

from __future__ import annotations

import email.utils
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from sqlalchemy.orm import Session

from distributor.channels.base import ChannelError
from distributor.config import Settings
from distributor.delivery import Recipient
from distributor.mail import InvalidRecipient, MessageTemplate
from distributor.storage import tables as t
from distributor.unsubscribe import make_token, preferences_url, unsubscribe_url


class Transport(Protocol):
    """``submit`` hands a message over; ``confirm`` waits for the verdict on it."""

    def submit(self, raw: bytes, *, sender: str, recipient: str) -> None: ...

    def confirm(self) -> None: ...

    def reset(self) -> None: ...

    def close(self) -> None: ...


class OutboxTransport:
    """Writes each message it would send as an .eml file named after its Message-ID."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    def confirm(self) -> None:
        pass

    def submit(self, raw: bytes, *, sender: str, recipient: str) -> None:
        name = raw.split(b"Message-ID: <", 1)[1].split(b">", 1)[0].decode("ascii")
        path = self.directory / f"{name}.eml"
        partial = path.with_suffix(".partial")
        try:
            partial.write_bytes(raw)
            os.replace(partial, path)
        except OSError as error:
            raise ChannelError(f"cannot write to the outbox {self.directory}: {error}") from None

    def reset(self) -> None:
        pass

    def close(self) -> None:
        pass


class SmtpTransport:
    def __init__(self, config: object) -> None:
        from distributor.channels.smtp import SmtpConnection

        self._connection = SmtpConnection(config)  # type: ignore[arg-type]
        self._open = False

    def submit(self, raw: bytes, *, sender: str, recipient: str) -> None:
        if not self._open:
            self._connection.__enter__()
            self._open = True
        self._connection.submit(raw, sender=sender, recipient=recipient)

    def confirm(self) -> None:
        self._connection.confirm()

    def reset(self) -> None:
        if self._open:
            self.close()

    def close(self) -> None:
        if self._open:
            self._open = False
            self._connection.__exit__(None, None, None)


@dataclass
class Newsletter:
    rendition_id: int
    channel_id: int
    list_id: int
    template: MessageTemplate
    transport: Transport
    settings: Settings

    @classmethod
    def open(
        cls, session: Session, rendition_id: int, channel_id: int, settings: Settings
    ) -> Newsletter:
        """Render the message once for the batch and open its transport."""
        from distributor.sending import channel_config, email_from_payload, outbox_path

        channel = session.get(t.Channel, channel_id)
        rendition_row = session.get(t.Rendition, rendition_id)
        if channel is None or rendition_row is None or not rendition_row.payload:
            raise ChannelError("the newsletter or its channel is gone", permanent=True)
        rendition = email_from_payload(rendition_row.payload)
        sender_address = email.utils.parseaddr(settings.mail_from)[1]
        domain = sender_address.rpartition("@")[2] or "localhost"
        mailing_list = session.get(t.MailingList, channel.config["list_id"])
        list_name = mailing_list.name if mailing_list else "news"
        template = MessageTemplate.build(
            rendition,
            sender=settings.mail_from,
            list_id=f"{_dot_atom(list_name)}.{domain}",
            message_id_domain=domain,
            unsubscribe_mailto=settings.unsubscribe_mailto or None,
        )
        transport: Transport
        if channel.config.get("transport") == "outbox":
            transport = OutboxTransport(outbox_path(settings, channel.name))
        else:
            from distributor.channels.smtp import SmtpConfig

            transport = SmtpTransport(channel_config(channel, SmtpConfig, settings))
        return cls(
            rendition_id, channel_id, channel.config["list_id"], template, transport, settings
        )

    def prepare(self, recipient: Recipient) -> Prepared:
        """The recipient's own message; ChannelError (permanent) when it cannot be made."""
        token = make_token(
            self.settings.secret_key.get_secret_value(), recipient.subscriber_id, self.list_id
        )
        try:
            raw = self.template.personalise(
                to_email=recipient.email,
                to_name=recipient.name,
                message_id=recipient.idem_key,
                unsubscribe_url=unsubscribe_url(self.settings.public_url, token),
                preferences_url=preferences_url(self.settings.public_url, token),
            )
        except InvalidRecipient as error:
            raise ChannelError(f"not sent: {error}", permanent=True) from None
        message_id = f"<{recipient.idem_key}@{self.template.message_id_domain}>"
        return Prepared(raw, recipient.email, message_id)

    def submit(self, prepared: Prepared) -> str:
        """Hand the message over (``confirm`` gives the verdict); returns its Message-ID."""
        self.transport.submit(
            prepared.raw, sender=self.template.envelope_sender, recipient=prepared.recipient
        )
        return prepared.message_id

    def confirm(self) -> None:
        self.transport.confirm()

    def reset(self) -> None:
        self.transport.reset()

    def close(self) -> None:
        self.transport.close()


@dataclass(frozen=True)
class Prepared:
    """One recipient's message, personalised and ready to hand over."""

    raw: bytes
    recipient: str
    message_id: str


def _dot_atom(name: str) -> str:
    cleaned = "".join(c if c.isalnum() or c == "-" else "-" for c in name.lower()).strip("-")
    return cleaned or "news"
