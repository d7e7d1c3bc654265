"""Sending prepared newsletter messages over one reused SMTP connection.

``SmtpConnection.send`` runs MAIL, RCPT and DATA itself instead of ``smtplib.sendmail`` so it
knows which phase failed, because that decides what a retry may do:

- a reply of 4xx, a refused connection or a disconnect before the message's final dot was
  sent: nothing was accepted, retry later (``ChannelError`` with ``retry_after``);
- a reply of 5xx: the server refused this message for good (a bounce, ``permanent``);
- a disconnect or timeout after the final dot, before the reply: the server may have taken
  the message (``ambiguous``); the stable Message-ID lets a person or the reconciliation
  find out.

After a failure the connection may be gone; ``send`` reconnects on its next call, so one
bad recipient does not end a batch.
"""

from __future__ import annotations

import contextlib
import re
import smtplib
import ssl
from types import TracebackType
from typing import Self

from pydantic import BaseModel, SecretStr

from distributor.channels.base import AuthExpired, ChannelError

# SMTP gives no retry hint; these are the usual first deferral intervals of an MTA.
_RETRY_AFTER_REPLY = 300.0
_RETRY_AFTER_CONNECTION = 60.0
_ENVELOPE_ADDRESS = re.compile(r"[^\s<>@,;:\"\\]+@[A-Za-z0-9.-]+")


class SmtpConfig(BaseModel):
    """Where and how to submit mail. ``ssl`` is implicit TLS (port 465); ``starttls`` upgrades
    a plain connection (port 587). ``verify_tls`` is off only for test peers."""

    host: str
    port: int = 587
    starttls: bool = True
    ssl: bool = False
    username: str | None = None
    password: SecretStr | None = None
    timeout: float = 30.0
    verify_tls: bool = True
    local_hostname: str | None = None


def _reply_text(message: bytes | str) -> str:
    return message.decode("utf-8", "replace") if isinstance(message, bytes) else message


def _reply_error(code: int, message: bytes | str, command: str) -> ChannelError:
    text = f"{command} answered {code} {_reply_text(message)}"
    if 400 <= code < 500:
        return ChannelError(text, retry_after=_RETRY_AFTER_REPLY)
    return ChannelError(text, permanent=True)


def _dot_stuffed(raw: bytes) -> bytes:
    """The DATA payload: CRLF line ends, leading dots doubled, and the final dot line."""
    crlf = raw.count(b"\r\n")
    if raw.count(b"\r") != crlf or raw.count(b"\n") != crlf:  # built messages are CRLF already
        raw = re.sub(rb"\r\n|\r|\n", b"\r\n", raw)
    body = raw.replace(b"\r\n.", b"\r\n..")
    if body.startswith(b"."):
        body = b"." + body
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    return body + b".\r\n"


class SmtpConnection:
    """One SMTP session reused for many messages: ``with SmtpConnection(config) as smtp:``."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self._smtp: smtplib.SMTP | None = None

    def __enter__(self) -> Self:
        self.connect()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def connected(self) -> bool:
        return self._smtp is not None

    def _tls_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        if not self.config.verify_tls:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def connect(self) -> None:
        """Connect, greet, upgrade to TLS and log in as configured."""
        if self._smtp is not None:
            return
        config = self.config
        where = f"{config.host}:{config.port}"
        smtp: smtplib.SMTP | None = None
        try:
            if config.ssl:
                smtp = smtplib.SMTP_SSL(
                    config.host,
                    config.port,
                    local_hostname=config.local_hostname,
                    timeout=config.timeout,
                    context=self._tls_context(),
                )
            else:
                smtp = smtplib.SMTP(
                    config.host,
                    config.port,
                    local_hostname=config.local_hostname,
                    timeout=config.timeout,
                )
            smtp.ehlo()
            if config.starttls and not config.ssl:
                if not smtp.has_extn("starttls"):
                    # Never fall back to sending credentials and mail in clear text.
                    raise ChannelError(f"{where} does not offer STARTTLS", permanent=True)
                smtp.starttls(context=self._tls_context())
                smtp.ehlo()
            if config.username:
                password = config.password.get_secret_value() if config.password else ""
                smtp.login(config.username, password)
        except smtplib.SMTPAuthenticationError as exc:
            _quietly_close(smtp)
            if 400 <= exc.smtp_code < 500:
                raise _reply_error(exc.smtp_code, exc.smtp_error, "AUTH") from exc
            raise AuthExpired(
                f"{where} refused the login for {config.username!r}: "
                f"{exc.smtp_code} {_reply_text(exc.smtp_error)}"
            ) from exc
        except smtplib.SMTPNotSupportedError as exc:
            _quietly_close(smtp)
            raise ChannelError(f"{where}: {exc}", permanent=True) from exc
        except ssl.SSLCertVerificationError as exc:
            _quietly_close(smtp)
            raise ChannelError(
                f"{where} has a certificate we cannot verify: {exc}", permanent=True
            ) from exc
        except (smtplib.SMTPConnectError, smtplib.SMTPHeloError) as exc:
            _quietly_close(smtp)
            raise _reply_error(exc.smtp_code, exc.smtp_error, "greeting") from exc
        except smtplib.SMTPResponseException as exc:
            _quietly_close(smtp)
            raise _reply_error(exc.smtp_code, exc.smtp_error, "connection setup") from exc
        except ChannelError:
            _quietly_close(smtp)
            raise
        except (smtplib.SMTPException, OSError) as exc:
            _quietly_close(smtp)
            raise ChannelError(
                f"cannot connect to {where}: {exc or type(exc).__name__}",
                retry_after=_RETRY_AFTER_CONNECTION,
            ) from exc
        self._smtp = smtp

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            _quietly_close(smtp)

    def reconnect(self) -> None:
        """Drop whatever is left of the session and open a fresh one."""
        smtp, self._smtp = self._smtp, None
        _quietly_close(smtp)
        self.connect()

    def _abandon(self) -> None:
        smtp, self._smtp = self._smtp, None
        _quietly_close(smtp)

    def _reset_or_abandon(self) -> None:
        """Clear the failed transaction so the session can carry the next message."""
        if self._smtp is None:
            return
        try:
            code, _ = self._smtp.rset()
        except (smtplib.SMTPException, OSError):
            self._abandon()
            return
        if code != 250:
            self._abandon()

    def send(self, raw: bytes, *, sender: str, recipient: str) -> None:
        """Submit one message to one recipient; return when the server has accepted it."""
        self.submit(raw, sender=sender, recipient=recipient)
        self.confirm()

    def submit(self, raw: bytes, *, sender: str, recipient: str) -> None:
        """MAIL, RCPT, DATA and the message, without waiting for the final reply: the caller
        may do other work while the server takes the message, then must call ``confirm``."""
        for address, role in ((sender, "sender"), (recipient, "recipient")):
            if not _ENVELOPE_ADDRESS.fullmatch(address):
                raise ChannelError(f"not a usable envelope {role}: {address!r}", permanent=True)
        self.connect()
        smtp = self._smtp
        assert smtp is not None
        try:
            try:
                code, reply = smtp.docmd("MAIL", f"FROM:<{sender}>")
            except (smtplib.SMTPServerDisconnected, OSError):
                # Servers close sessions left idle between batches; nothing was sent yet.
                self.reconnect()
                assert self._smtp is not None
                smtp = self._smtp
                code, reply = smtp.docmd("MAIL", f"FROM:<{sender}>")
            if code != 250:
                raise self._refused(code, reply, "MAIL FROM")
            # Both addresses passed _ENVELOPE_ADDRESS above: no quoting needed (smtplib would
            # parse each again with the email package).
            code, reply = smtp.docmd("RCPT", f"TO:<{recipient}>")
            if code not in (250, 251):
                raise self._refused(code, reply, f"RCPT TO <{recipient}>")
            code, reply = smtp.docmd("DATA")
            if code != 354:
                raise self._refused(code, reply, "DATA")
            payload = _dot_stuffed(raw)
        except ChannelError:
            raise
        except (smtplib.SMTPResponseException, smtplib.SMTPServerDisconnected, OSError) as exc:
            self._abandon()
            raise ChannelError(
                f"{self._where} went away before accepting the message: "
                f"{exc or type(exc).__name__}",
                retry_after=_RETRY_AFTER_CONNECTION,
            ) from exc
        try:
            smtp.send(payload)
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            # Part of the message may have left: only a reply could tell, and none will come.
            self._abandon()
            raise ChannelError(
                f"{self._where} went away while the message was being sent; it may have "
                f"been delivered: {exc or type(exc).__name__}",
                ambiguous=True,
            ) from exc

    def confirm(self) -> None:
        """The server's reply to the submitted message: from here on it either took
        responsibility for it or said why not."""
        smtp = self._smtp
        if smtp is None:
            raise ChannelError(f"{self._where}: nothing was submitted", ambiguous=True)
        try:
            code, reply = smtp.getreply()
        except smtplib.SMTPResponseException as exc:
            # getreply() raises this for a reply it cannot parse.
            self._abandon()
            raise ChannelError(
                f"{self._where} answered garbage: {exc}", ambiguous=True, retry_after=60
            ) from exc
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            self._abandon()
            raise ChannelError(
                f"{self._where} went away after the message was sent; it may have been "
                f"delivered: {exc or type(exc).__name__}",
                ambiguous=True,
            ) from exc
        if code != 250:
            raise self._refused(code, reply, "end of DATA")

    @property
    def _where(self) -> str:
        return f"{self.config.host}:{self.config.port}"

    def _refused(self, code: int, reply: bytes, command: str) -> ChannelError:
        if code == 421:
            # 421 means the server is closing the session.
            self._abandon()
        else:
            self._reset_or_abandon()
        return _reply_error(code, reply, command)

    def check(self) -> str:
        """A "test connection": connect, log in, NOOP, and describe the session."""
        self.connect()
        assert self._smtp is not None
        try:
            code, reply = self._smtp.noop()
        except (smtplib.SMTPException, OSError) as exc:
            self._abandon()
            raise ChannelError(
                f"{self.config.host} dropped the session: {exc}", retry_after=60
            ) from exc
        if code != 250:
            raise _reply_error(code, reply, "NOOP")
        security = "TLS" if self.config.ssl else "STARTTLS" if self.config.starttls else "no TLS"
        user = f" as {self.config.username}" if self.config.username else ""
        return f"{self.config.host}:{self.config.port} ({security}){user}"


def _quietly_close(smtp: smtplib.SMTP | None) -> None:
    if smtp is None:
        return
    with contextlib.suppress(OSError):
        smtp.close()
