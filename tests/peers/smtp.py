"""A real SMTP server (aiosmtpd) on loopback for mail tests, with switchable faults.

In-process, ``SmtpPeer`` keeps every accepted message in memory (and in a Maildir when given
one), counts connections, and can require STARTTLS (self-signed certificate made with
``cryptography``) and AUTH. Faults: answer 421 to the next N RCPTs, refuse an address with
550, or accept a message and drop the connection before replying (the ambiguous case).

As a process that outlives the workers a test kills::

    python -m tests.peers.smtp --port 8025 --maildir /tmp/mail [--user U --password P]
        [--starttls] [--tempfail-rcpts N] [--reject ADDRESS ...] [--drop-after-data N]

prints one JSON line when ready and stops on SIGTERM. ``count_by_recipient(maildir)`` then
says how many copies each recipient got, from the ``X-RcptTo`` header stored with each message.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import ipaddress
import json
import mailbox
import signal
import ssl
import tempfile
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.peers.local import free_port


@dataclass(frozen=True)
class Received:
    """One accepted message as it arrived: envelope and the exact DATA bytes."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes


def self_signed_context(directory: Path) -> ssl.SSLContext:
    """A server TLS context for ``localhost``/127.0.0.1 with a fresh self-signed certificate."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    return context


class _Handler:
    """aiosmtpd hooks: faults first, then store."""

    def __init__(self, peer: SmtpPeer) -> None:
        self.peer = peer

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        with self.peer.lock:
            if self.peer.tempfail_rcpts > 0:
                self.peer.tempfail_rcpts -= 1
                return "421 4.3.2 Service shutting down, try again later"
            if address.lower() in self.peer.rejected:
                return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        self.peer.store(Received(str(envelope.mail_from), tuple(envelope.rcpt_tos), raw))
        with self.peer.lock:
            drop = self.peer.drop_after_data > 0
            if drop:
                self.peer.drop_after_data -= 1
        if drop and isinstance(server.transport, asyncio.Transport):
            # Accepted and stored, but the client never hears so: it cannot know.
            server.transport.abort()
        return "250 2.0.0 Message accepted"


class _CountingController(Controller):
    def __init__(self, peer: SmtpPeer, **kwargs: Any) -> None:
        super().__init__(_Handler(peer), **kwargs)
        self.peer = peer

    def factory(self) -> SMTP:
        with self.peer.lock:
            self.peer.connections += 1
        server: SMTP = super().factory()  # type: ignore[no-untyped-call]
        return server


class SmtpPeer:
    """An aiosmtpd server on 127.0.0.1 with an in-memory (and optional Maildir) store."""

    def __init__(
        self,
        *,
        port: int | None = None,
        maildir: Path | None = None,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
    ) -> None:
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.maildir = maildir
        self.username = username
        self.password = password
        self.starttls = starttls
        self.lock = threading.Lock()
        self.messages: list[Received] = []
        self.connections = 0
        self.tempfail_rcpts = 0
        self.rejected: set[str] = set()
        self.drop_after_data = 0
        self._workdir = tempfile.TemporaryDirectory(prefix="smtp-peer-")
        self._controller: _CountingController | None = None

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == self.username
            and auth_data.password.decode() == self.password
        )
        return AuthResult(success=ok, handled=False)

    def start(self) -> SmtpPeer:
        kwargs: dict[str, Any] = {"data_size_limit": 25 * 1024 * 1024}
        if self.username is not None:
            kwargs.update(
                authenticator=self._authenticate,
                auth_required=True,
                auth_require_tls=self.starttls,
            )
        if self.starttls:
            kwargs.update(
                tls_context=self_signed_context(Path(self._workdir.name)), require_starttls=True
            )
        if self.maildir is not None:
            for sub in ("cur", "new", "tmp"):
                (self.maildir / sub).mkdir(parents=True, exist_ok=True)
        self._controller = _CountingController(self, hostname=self.host, port=self.port, **kwargs)
        self._controller.start()
        with self.lock:
            # start() connects once itself to check the server is up.
            self.connections = 0
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
        self._workdir.cleanup()

    def store(self, received: Received) -> None:
        with self.lock:
            self.messages.append(received)
            if self.maildir is not None:
                envelope = (
                    f"X-MailFrom: {received.mail_from}\r\n"
                    f"X-RcptTo: {', '.join(received.rcpt_tos)}\r\n"
                ).encode()
                # Maildir.add writes to tmp/ and renames into new/: a reader never sees half.
                mailbox.Maildir(self.maildir, create=False).add(envelope + received.raw)

    def reject(self, address: str) -> None:
        with self.lock:
            self.rejected.add(address.lower())

    def tempfail_next_rcpts(self, count: int = 1) -> None:
        with self.lock:
            self.tempfail_rcpts = count

    def drop_after_next_data(self, count: int = 1) -> None:
        with self.lock:
            self.drop_after_data = count

    def received_by(self, recipient: str) -> list[Received]:
        with self.lock:
            return [m for m in self.messages if recipient in m.rcpt_tos]


def count_by_recipient(maildir: str | Path) -> dict[str, int]:
    """How many messages each envelope recipient got, read from a peer's Maildir."""
    counts: Counter[str] = Counter()
    root = Path(maildir)
    for sub in ("new", "cur"):
        folder = root / sub
        if not folder.is_dir():
            continue
        for path in folder.iterdir():
            with path.open("rb") as handle:
                for line in handle:
                    if line in (b"\r\n", b"\n"):
                        break
                    if line.lower().startswith(b"x-rcptto:"):
                        for address in line.split(b":", 1)[1].split(b","):
                            if address.strip():
                                counts[address.strip().decode()] += 1
                        break
    return dict(counts)


@pytest.fixture
def smtp_server() -> Iterator[SmtpPeer]:
    """A plain SMTP server with no AUTH, fresh for each test."""
    peer = SmtpPeer().start()
    try:
        yield peer
    finally:
        peer.stop()


@pytest.fixture
def smtp_secure_server() -> Iterator[SmtpPeer]:
    """An SMTP server that requires STARTTLS, then AUTH as ``news`` / ``s3cret-pass``."""
    peer = SmtpPeer(username="news", password="s3cret-pass", starttls=True).start()
    try:
        yield peer
    finally:
        peer.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--maildir", type=Path, required=True)
    parser.add_argument("--user")
    parser.add_argument("--password")
    parser.add_argument("--starttls", action="store_true")
    parser.add_argument("--tempfail-rcpts", type=int, default=0)
    parser.add_argument("--reject", action="append", default=[])
    parser.add_argument("--drop-after-data", type=int, default=0)
    args = parser.parse_args(argv)

    peer = SmtpPeer(
        port=args.port,
        maildir=args.maildir,
        username=args.user,
        password=args.password,
        starttls=args.starttls,
    )
    peer.tempfail_next_rcpts(args.tempfail_rcpts)
    peer.drop_after_next_data(args.drop_after_data)
    for address in args.reject:
        peer.reject(address)
    peer.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print(json.dumps({"ready": True, "host": peer.host, "port": peer.port}), flush=True)
    stop.wait()
    peer.stop()


if __name__ == "__main__":
    main()
