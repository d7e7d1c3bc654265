"""Newsletter messages: built once per article, personalised per recipient by substitution.

The stdlib ``EmailMessage`` costs about 2.7 ms a message (reference/perf.md §2), most of it
header parsing, refolding and pure-Python quoted-printable. A newsletter's headers and parts
are the same for every recipient except To, Date, Message-ID, List-Unsubscribe and the two
URLs in the body, so ``MessageTemplate.build`` formats and validates everything fixed once
(with ``email.policy.SMTP``), and ``personalise`` validates the per-recipient values, puts
them into str templates and encodes each part with ``binascii.b2a_qp`` (C).

The fixed text between the placeholders is encoded to quoted-printable once, at build time;
each piece ends in a soft line break, so a recipient's URL, encoded on its own, starts a fresh
line and no line grows past the limit. Decoded, the pieces join back into exactly the text
with the URLs in place.
"""

from __future__ import annotations

import binascii
import email.policy
import email.utils
import html
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from email.header import Header
from email.headerregistry import Address

from distributor.domain import PREFERENCES_PLACEHOLDER, UNSUBSCRIBE_PLACEHOLDER, EmailRendition

_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_DOT_ATOM = rf"{_ATEXT}+(?:\.{_ATEXT}+)*"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DOMAIN = rf"{_LABEL}(?:\.{_LABEL})+"
_ADDRESS = re.compile(rf"{_DOT_ATOM}@{_DOMAIN}")
_DOMAIN_NAME = re.compile(_DOMAIN)
_MESSAGE_ID_LEFT = re.compile(_DOT_ATOM)
_LIST_ID = re.compile(_DOT_ATOM)
# Printable ASCII without space, quotes, angle brackets or backslash: safe inside <...> in a
# header and inside a double-quoted HTML attribute once & is escaped.
_URL = re.compile(r"https?://[!#-;=?-\[\]-~]+")
# A display name made only of atext and spaces needs no quoting.
_PLAIN_NAME = re.compile(rf"(?:{_ATEXT}| )+")
# C0 and C1 controls and the Unicode line separators: anything a parser might take as a break.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_MAX_ADDRESS = 254
_MAX_NAME = 256
_MAX_URL = 900
_MAX_MESSAGE_ID = 200
_CRLF = "\r\n"


class InvalidRecipient(ValueError):
    """A per-recipient value that cannot go into a message without changing its meaning."""


class InvalidTemplate(ValueError):
    """A sender, subject or list id that cannot be a header as given."""


def _one_line(value: str, what: str, error: type[ValueError] = InvalidTemplate) -> str:
    if _CONTROL.search(value):
        raise error(f"{what} contains a line break or control character: {value!r}")
    return value


def _crlf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", _CRLF)


def _qp(text: str) -> bytes:
    # istext keeps CRLF as line breaks; the boundary "=_..." can never occur in the output
    # because quoted-printable writes "=" only before two hex digits or a line break.
    encoded = binascii.b2a_qp(text.encode("utf-8"), istext=True)
    if "\n" not in text:
        # b2a_qp picks its line end from the input's first one; with none it soft-breaks with LF.
        encoded = encoded.replace(b"\n", b"\r\n")
    return encoded


_SOFT_BREAK = b"=\r\n"
_PLACEHOLDER_SPLIT = re.compile(
    f"({re.escape(UNSUBSCRIBE_PLACEHOLDER)}|{re.escape(PREFERENCES_PLACEHOLDER)})"
)


def _qp_piece(text: str) -> bytes:
    """``text`` encoded so that what follows it starts a new encoded line."""
    if not text:
        return b""
    if text.endswith("\n"):
        encoded = _qp(text)
        if encoded.endswith(b"\r\n"):
            return encoded  # a hard line break already ends it
    # A soft break added after the last line would make a full line (76) one too long, so
    # the encoder is given one more character and leaves room for it: "x" (never escaped)
    # ends the last line, and becomes the "=" of the soft break.
    return _qp(text + "x")[:-1] + _SOFT_BREAK


def _encoded_pieces(text: str) -> tuple[bytes | str, ...]:
    """The part pre-encoded: bytes for fixed text, the placeholder itself where a
    recipient's value goes."""
    return tuple(
        piece if index % 2 else _qp_piece(piece)
        for index, piece in enumerate(_PLACEHOLDER_SPLIT.split(text))
    )


def _fill(pieces: tuple[bytes | str, ...], values: dict[str, str]) -> bytes:
    return b"".join(
        piece if isinstance(piece, bytes) else _qp_piece(values[piece]) for piece in pieces
    )


def _fold(name: str, value: str) -> bytes:
    """A header line folded and RFC 2047-encoded by the stdlib (used once per template)."""
    policy = email.policy.SMTP
    # fold_binary leaves a short non-ASCII value unencoded; the header object always encodes.
    folded: str = policy.header_factory(name, value).fold(policy=policy)
    return folded.encode("ascii")


def check_address(address: str) -> str:
    """``address`` if it is a plain ASCII addr-spec (no display name, no comments)."""
    if len(address) > _MAX_ADDRESS or not _ADDRESS.fullmatch(address):
        raise InvalidRecipient(f"not an email address we can send to: {address!r}")
    return address


def _check_url(url: str, what: str) -> str:
    if len(url) > _MAX_URL or not _URL.fullmatch(url):
        raise InvalidRecipient(f"{what} is not a printable http(s) URL: {url!r}")
    return url


def _mailbox(name: str, address: str) -> str:
    """``name <address>`` for a To header, with the name quoted or RFC 2047 encoded as needed."""
    name = " ".join(name.split())
    if not name:
        return address
    if _PLAIN_NAME.fullmatch(name):
        return f"{name} <{address}>"
    if name.isascii():
        quoted = name.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{quoted}" <{address}>'
    encoded = Header(name, "utf-8", header_name="To").encode(linesep=_CRLF)
    return f"{encoded} <{address}>"


@dataclass(frozen=True)
class MessageTemplate:
    """A rendered newsletter ready to be personalised; build it with ``MessageTemplate.build``."""

    envelope_sender: str
    message_id_domain: str
    unsubscribe_mailto: str | None
    _head: bytes
    _tail: bytes
    _text: tuple[bytes | str, ...]
    _html: tuple[bytes | str, ...]
    _separator_text: bytes
    _separator_html: bytes
    _closing: bytes

    @classmethod
    def build(
        cls,
        rendition: EmailRendition,
        *,
        sender: str,
        list_id: str,
        message_id_domain: str,
        unsubscribe_mailto: str | None = None,
    ) -> MessageTemplate:
        """Format the fixed headers once. ``sender`` is ``"Name <address>"``, ``list_id`` a
        dot-atom such as ``news.ishr.example``, ``unsubscribe_mailto`` a bare address."""
        _one_line(sender, "sender")
        display_name, address = email.utils.parseaddr(sender)
        try:
            check_address(address)
        except InvalidRecipient as exc:
            raise InvalidTemplate(f"sender {sender!r} has no usable address") from exc
        subject = " ".join(_one_line(rendition.subject, "subject").split())
        if not subject:
            raise InvalidTemplate("a newsletter needs a subject")
        if not _LIST_ID.fullmatch(list_id):
            raise InvalidTemplate(f"list id must be a dot-atom like news.example.org: {list_id!r}")
        if not _DOMAIN_NAME.fullmatch(message_id_domain):
            raise InvalidTemplate(f"not a domain for Message-IDs: {message_id_domain!r}")
        if unsubscribe_mailto is not None:
            try:
                check_address(unsubscribe_mailto)
            except InvalidRecipient as exc:
                raise InvalidTemplate(f"bad unsubscribe address {unsubscribe_mailto!r}") from exc

        boundary = f"=_{secrets.token_hex(16)}"
        head = _fold("From", str(Address(display_name=display_name, addr_spec=address)))
        head += _fold("Subject", subject)
        tail = b"".join(
            [
                b"MIME-Version: 1.0\r\n",
                f"List-Id: <{list_id}>\r\n".encode("ascii"),
                # Asks auto-responders (vacation replies) to stay quiet.
                b"Precedence: bulk\r\n",
                f'Content-Type: multipart/alternative;\r\n boundary="{boundary}"\r\n'.encode(
                    "ascii"
                ),
                b"\r\n",
            ]
        )
        part = f'--{boundary}\r\nContent-Type: text/{{}}; charset="utf-8"\r\n'
        part += "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        return cls(
            envelope_sender=address,
            message_id_domain=message_id_domain,
            unsubscribe_mailto=unsubscribe_mailto,
            _head=head,
            _tail=tail,
            _text=_encoded_pieces(_crlf(rendition.text)),
            _html=_encoded_pieces(_crlf(rendition.html)),
            _separator_text=part.format("plain").encode("ascii"),
            _separator_html=("\r\n" + part.format("html")).encode("ascii"),
            _closing=f"\r\n--{boundary}--\r\n".encode("ascii"),
        )

    def personalise(
        self,
        *,
        to_email: str,
        to_name: str,
        message_id: str,
        unsubscribe_url: str,
        preferences_url: str,
        date: datetime | None = None,
    ) -> bytes:
        """The complete RFC 5322 message for one recipient, with CRLF line ends.

        ``message_id`` is the left part of the Message-ID (derive it from the delivery, never
        from the attempt); the URLs go into the text part as they are and into the HTML part
        HTML-escaped, replacing ``UNSUBSCRIBE_PLACEHOLDER`` and ``PREFERENCES_PLACEHOLDER``.
        Raises ``InvalidRecipient`` for a value that could break or add a header.
        """
        check_address(to_email)
        _one_line(to_name, "recipient name", InvalidRecipient)
        if len(to_name) > _MAX_NAME:
            raise InvalidRecipient(f"recipient name is longer than {_MAX_NAME} characters")
        if len(message_id) > _MAX_MESSAGE_ID or not _MESSAGE_ID_LEFT.fullmatch(message_id):
            raise InvalidRecipient(f"not a Message-ID left part: {message_id!r}")
        _check_url(unsubscribe_url, "unsubscribe URL")
        _check_url(preferences_url, "preferences URL")

        when = email.utils.format_datetime(date) if date else email.utils.formatdate(usegmt=True)
        unsubscribe = f"List-Unsubscribe: <{unsubscribe_url}>"
        if self.unsubscribe_mailto:
            unsubscribe += f",\r\n <mailto:{self.unsubscribe_mailto}?subject=unsubscribe>"
        headers = (
            f"To: {_mailbox(to_name, to_email)}\r\n"
            f"Date: {when}\r\n"
            f"Message-ID: <{message_id}@{self.message_id_domain}>\r\n"
            f"{unsubscribe}\r\n"
        )
        if unsubscribe_url.startswith("https://"):
            # RFC 8058 one-click is defined for HTTPS URIs only.
            headers += "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"

        text = {UNSUBSCRIBE_PLACEHOLDER: unsubscribe_url, PREFERENCES_PLACEHOLDER: preferences_url}
        page = {key: html.escape(url) for key, url in text.items()}
        return b"".join(
            [
                self._head,
                headers.encode("ascii"),
                self._tail,
                self._separator_text,
                _fill(self._text, text),
                self._separator_html,
                _fill(self._html, page),
                self._closing,
            ]
        )
