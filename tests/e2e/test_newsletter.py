"""The seed newsletter through a real Celery worker to a real SMTP server, on PostgreSQL +
Redis and on the embedded default, and the one-click unsubscribe that follows."""

from __future__ import annotations

import email
import email.policy
import re

from fastapi.testclient import TestClient
from sqlalchemy import select

from distributor.config import get_settings
from distributor.storage import get_database
from distributor.storage import tables as t
from distributor.subscribers import unsubscribe
from distributor.unsubscribe import UnsubscribeTarget
from distributor.web.app import create_app
from tests.e2e.conftest import SmtpSink
from tests.factories import approve_all, schedule_now, seed_setup, smtp_options, states
from tests.peers.stack import Stack, wait_for


def test_the_seed_newsletter_reaches_three_subscribers_once_each(
    stack: Stack, smtp_sink: SmtpSink
) -> None:
    settings = get_settings()
    db = get_database(settings.database_url)
    setup = seed_setup(db, settings, subscribers=4, email=smtp_options("127.0.0.1", smtp_sink.port))
    approve_all(setup)
    schedule_now(setup)
    with db.session() as session:  # leaves after the send was scheduled, before it went out
        last = session.scalars(
            select(t.Subscriber).where(t.Subscriber.email == "reader00003@example.org")
        ).one()
        unsubscribe(session, UnsubscribeTarget(last.id, 1), via="test")
    stack.start_worker()
    stack.start_beat()
    wait_for(
        lambda: states(db) == {"sent": 4, "cancelled": 1},
        timeout=90,
        what=lambda: f"3 emails + 1 post sent, 1 cancelled; {stack.log_tail()}",
    )

    assert smtp_sink.counts() == {f"reader{n:05d}@example.org": 1 for n in range(3)}
    raw = smtp_sink.messages()[0]
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message.get_content_type() == "multipart/alternative"
    kinds = [part.get_content_type() for part in message.iter_parts()]  # type: ignore[attr-defined]
    assert kinds == ["text/plain", "text/html"]
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "UN Photo / Manuel Elias" in html and "Download as PDF" in html
    assert "Related articles" in text or "Related" in text
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    links = re.findall(r"<([^>]+)>", str(message["List-Unsubscribe"]))
    assert links[0].startswith("https://news.example.org/u/")
    assert links[1].startswith("mailto:")
    assert links[0] in html
    assert re.fullmatch(r"<dlv-[^@]+@ishr\.example>", str(message["Message-ID"]))

    recipient = str(message["To"])
    path = links[0].removeprefix("https://news.example.org")
    client = TestClient(create_app(settings))
    assert client.get(path).status_code == 200
    assert _membership(recipient) == "subscribed", "a GET (a mail scanner) must not unsubscribe"
    answer = client.post(path, data={"List-Unsubscribe": "One-Click"})
    assert answer.status_code == 200
    assert _membership(recipient) == "unsubscribed"
    assert client.post(path, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    assert client.post(path[:-3] + "xyz", data={"List-Unsubscribe": "One-Click"}).status_code == 400


def _membership(address: str) -> str:
    db = get_database(get_settings().database_url)
    email_only = re.search(r"[\w.+-]+@[\w.-]+", address)
    assert email_only
    with db.session() as session:
        status = session.scalar(
            select(t.Membership.status)
            .join(t.Subscriber, t.Subscriber.id == t.Membership.subscriber_id)
            .where(t.Subscriber.email == email_only.group(0))
        )
    return str(status)
