"""SmtpConnection against a real aiosmtpd server on loopback."""

from __future__ import annotations

import email.policy
import json
import subprocess
import sys
from datetime import UTC, datetime
from email.parser import BytesParser
from pathlib import Path

import pytest
from pydantic import SecretStr

from distributor.channels.base import AuthExpired, ChannelError
from distributor.channels.smtp import SmtpConfig, SmtpConnection
from distributor.domain import PREFERENCES_PLACEHOLDER, UNSUBSCRIBE_PLACEHOLDER, EmailRendition
from distributor.mail import MessageTemplate
from tests.peers.smtp import (  # noqa: F401
    SmtpPeer,
    count_by_recipient,
    free_port,
    smtp_secure_server,
    smtp_server,
)

pytestmark = pytest.mark.peers

SENDER = "bounces@ishr.example"
TEMPLATE = MessageTemplate.build(
    EmailRendition(
        subject="Civil society meets the Secretary-General — défenseurs",
        preheader="",
        html=f'<p>Hello</p>\n.\n<a href="{UNSUBSCRIBE_PLACEHOLDER}">Unsubscribe</a>\n',
        text=f".leading dot\n.\nFrom the field\nUnsubscribe: {UNSUBSCRIBE_PLACEHOLDER}\n"
        f"Preferences: {PREFERENCES_PLACEHOLDER}\n",
    ),
    sender="ISHR News <news@ishr.example>",
    list_id="news.ishr.example",
    message_id_domain="ishr.example",
    unsubscribe_mailto="unsubscribe@ishr.example",
)


def _message(recipient: str = "alice@example.org", number: int = 1) -> bytes:
    return TEMPLATE.personalise(
        to_email=recipient,
        to_name="Alice Example",
        message_id=f"delivery-{number}",
        unsubscribe_url=f"https://news.ishr.example/u/{number}",
        preferences_url=f"https://news.ishr.example/p/{number}",
        date=datetime(2026, 11, 28, 10, 0, tzinfo=UTC),
    )


def _plain(peer: SmtpPeer, **overrides: object) -> SmtpConfig:
    options: dict[str, object] = {
        "host": peer.host,
        "port": peer.port,
        "starttls": False,
        "timeout": 5,
        **overrides,
    }
    return SmtpConfig.model_validate(options)


def test_a_message_arrives_byte_for_byte_with_its_headers(smtp_server: SmtpPeer) -> None:  # noqa: F811
    raw = _message()

    with SmtpConnection(_plain(smtp_server)) as smtp:
        smtp.send(raw, sender=SENDER, recipient="alice@example.org")

    [received] = smtp_server.messages
    assert received.mail_from == SENDER
    assert received.rcpt_tos == ("alice@example.org",)
    assert received.raw == raw
    parsed = BytesParser(policy=email.policy.default).parsebytes(received.raw)
    assert parsed["Message-ID"] == "<delivery-1@ishr.example>"
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_lines_starting_with_a_dot_survive_the_data_phase(smtp_server: SmtpPeer) -> None:  # noqa: F811
    raw = b"Subject: dots\r\n\r\n.\r\n..two\r\n.one\r\nlast line without end"

    with SmtpConnection(_plain(smtp_server)) as smtp:
        smtp.send(raw, sender=SENDER, recipient="alice@example.org")

    [received] = smtp_server.messages
    assert received.raw == raw + b"\r\n"


def test_starttls_and_auth_deliver(smtp_secure_server: SmtpPeer) -> None:  # noqa: F811
    config = _plain(
        smtp_secure_server,
        starttls=True,
        verify_tls=False,
        username="news",
        password=SecretStr("s3cret-pass"),
    )

    with SmtpConnection(config) as smtp:
        description = smtp.check()
        smtp.send(_message(), sender=SENDER, recipient="alice@example.org")

    assert description == f"127.0.0.1:{smtp_secure_server.port} (STARTTLS) as news"
    assert len(smtp_secure_server.messages) == 1


def test_a_wrong_password_means_the_account_needs_reconnecting(
    smtp_secure_server: SmtpPeer,  # noqa: F811
) -> None:
    config = _plain(
        smtp_secure_server,
        starttls=True,
        verify_tls=False,
        username="news",
        password=SecretStr("wrong"),
    )

    with pytest.raises(AuthExpired) as caught:
        SmtpConnection(config).connect()

    assert caught.value.permanent
    assert "wrong" not in caught.value.message


def test_an_unverifiable_certificate_is_refused(smtp_secure_server: SmtpPeer) -> None:  # noqa: F811
    config = _plain(smtp_secure_server, starttls=True, username="news", password=SecretStr("x"))

    with pytest.raises(ChannelError) as caught:
        SmtpConnection(config).connect()

    assert caught.value.permanent
    assert smtp_secure_server.messages == []


def test_a_server_without_starttls_is_refused_when_tls_is_configured(
    smtp_server: SmtpPeer,  # noqa: F811
) -> None:
    with pytest.raises(ChannelError) as caught:
        SmtpConnection(_plain(smtp_server, starttls=True)).connect()

    assert caught.value.permanent
    assert "STARTTLS" in caught.value.message


def test_a_421_is_retryable_and_the_next_send_reconnects(smtp_server: SmtpPeer) -> None:  # noqa: F811
    smtp_server.tempfail_next_rcpts(1)

    with SmtpConnection(_plain(smtp_server)) as smtp:
        with pytest.raises(ChannelError) as caught:
            smtp.send(_message(), sender=SENDER, recipient="alice@example.org")
        smtp.send(_message(), sender=SENDER, recipient="alice@example.org")

    assert not caught.value.permanent
    assert not caught.value.ambiguous
    assert caught.value.retry_after is not None
    assert "421" in caught.value.message
    assert len(smtp_server.messages) == 1
    assert smtp_server.connections == 2


def test_a_550_is_a_permanent_bounce_and_the_session_carries_on(
    smtp_server: SmtpPeer,  # noqa: F811
) -> None:
    smtp_server.reject("gone@example.org")

    with SmtpConnection(_plain(smtp_server)) as smtp:
        with pytest.raises(ChannelError) as caught:
            smtp.send(_message("gone@example.org"), sender=SENDER, recipient="gone@example.org")
        smtp.send(_message(), sender=SENDER, recipient="alice@example.org")

    assert caught.value.permanent
    assert "550" in caught.value.message
    assert "User unknown" in caught.value.message
    assert [m.rcpt_tos for m in smtp_server.messages] == [("alice@example.org",)]
    assert smtp_server.connections == 1


def test_a_drop_after_the_final_dot_is_ambiguous(smtp_server: SmtpPeer) -> None:  # noqa: F811
    smtp_server.drop_after_next_data(1)

    with SmtpConnection(_plain(smtp_server)) as smtp:
        with pytest.raises(ChannelError) as caught:
            smtp.send(_message(), sender=SENDER, recipient="alice@example.org")
        assert not smtp.connected
        smtp.send(_message("bob@example.net", 2), sender=SENDER, recipient="bob@example.net")

    assert caught.value.ambiguous
    assert not caught.value.permanent
    # The server did take it: exactly why the outcome must not be read as "failed".
    assert [m.rcpt_tos for m in smtp_server.messages] == [
        ("alice@example.org",),
        ("bob@example.net",),
    ]


def test_one_connection_carries_fifty_messages(smtp_server: SmtpPeer) -> None:  # noqa: F811
    with SmtpConnection(_plain(smtp_server)) as smtp:
        for number in range(50):
            recipient = f"reader{number}@example.org"
            smtp.send(_message(recipient, number), sender=SENDER, recipient=recipient)

    assert len(smtp_server.messages) == 50
    assert smtp_server.connections == 1


def test_a_session_the_server_closed_while_idle_is_reopened_transparently() -> None:
    first = SmtpPeer().start()
    try:
        smtp = SmtpConnection(_plain(first))
        smtp.send(_message(), sender=SENDER, recipient="alice@example.org")
    finally:
        first.stop()
    second = SmtpPeer(port=first.port).start()
    try:
        smtp.send(_message("bob@example.net", 2), sender=SENDER, recipient="bob@example.net")
        smtp.close()
    finally:
        second.stop()

    assert [m.rcpt_tos for m in second.messages] == [("bob@example.net",)]


def test_a_refused_connection_is_retryable() -> None:
    config = SmtpConfig(host="127.0.0.1", port=free_port(), starttls=False, timeout=5)

    with pytest.raises(ChannelError) as caught:
        SmtpConnection(config).connect()

    assert not caught.value.permanent
    assert not caught.value.ambiguous
    assert caught.value.retry_after is not None


@pytest.mark.parametrize(
    "recipient", ["alice@example.org\r\nRCPT TO:<victim@example.com>", "Alice <a@example.org>", ""]
)
def test_an_envelope_address_that_is_not_one_address_is_refused_before_sending(
    smtp_server: SmtpPeer,  # noqa: F811
    recipient: str,
) -> None:
    with SmtpConnection(_plain(smtp_server)) as smtp, pytest.raises(ChannelError) as caught:
        smtp.send(_message(), sender=SENDER, recipient=recipient)

    assert caught.value.permanent
    assert smtp_server.messages == []


def test_the_standalone_peer_counts_copies_per_recipient(tmp_path: Path) -> None:
    port = free_port()
    maildir = tmp_path / "mail"
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.peers.smtp", "--port", str(port), "--maildir", str(maildir)],
        stdout=subprocess.PIPE,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        assert process.stdout is not None
        assert json.loads(process.stdout.readline())["ready"] is True
        config = SmtpConfig(host="127.0.0.1", port=port, starttls=False, timeout=5)
        with SmtpConnection(config) as smtp:
            for recipient in ("alice@example.org", "bob@example.net", "alice@example.org"):
                smtp.send(_message(recipient), sender=SENDER, recipient=recipient)
    finally:
        process.terminate()
        process.wait(timeout=10)

    assert count_by_recipient(maildir) == {"alice@example.org": 2, "bob@example.net": 1}
