"""Sending through the ledger to a real SMTP server: temporary and permanent failures,
ambiguous outcomes, rejected content."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from pydantic import SecretStr
from sqlalchemy import select, update

from distributor import delivery as ledger
from distributor import services
from distributor.accounts import user_by_email
from distributor.storage import Database
from distributor.storage import tables as t
from distributor.storage.tables import utcnow
from tests.factories import (
    APPROVER,
    Setup,
    approve_all,
    schedule_now,
    seed_setup,
    send_due,
    settings_for,
    smtp_options,
)
from tests.peers.smtp import SmtpPeer

LEASE = timedelta(minutes=1)


def _setup(tmp_path: Path, smtp: SmtpPeer, subscribers: int = 3) -> Setup:
    db = Database(f"sqlite:///{tmp_path / 'send.db'}")
    db.migrate()
    options = smtp_options(smtp.host, smtp.port)
    return seed_setup(db, settings_for(db.url, tmp_path), subscribers=subscribers, email=options)


def _email_rows(setup: Setup) -> dict[str, t.Delivery]:
    with setup.db.session() as session:
        rows = session.scalars(select(t.Delivery).where(t.Delivery.subscriber_id.is_not(None)))
        return {r.target: r for r in rows}


def test_a_temporary_smtp_refusal_is_retried_later_and_then_delivered(
    tmp_path: Path, smtp_server: SmtpPeer
) -> None:
    setup = _setup(tmp_path, smtp_server)
    approve_all(setup, channels=["newsletter"])
    schedule_now(setup, channels=["newsletter"])
    smtp_server.tempfail_next_rcpts(1)
    assert send_due(setup) == {"pending": 1, "sent": 2}
    first = _email_rows(setup)["sub1"]
    assert first.state == "pending"
    assert "answered 421" in (first.last_error or ""), first.last_error
    assert first.not_before > utcnow() + timedelta(seconds=30), "retried with backoff, not at once"
    assert send_due(setup) == {}, "not before its retry time"
    with setup.db.session() as session:  # the retry time comes
        session.execute(
            update(t.Delivery).where(t.Delivery.id == first.id).values(not_before=utcnow())
        )
    assert send_due(setup) == {"sent": 1}
    assert len(smtp_server.received_by("reader00000@example.org")) == 1


def test_a_permanent_smtp_refusal_is_a_bounce_that_suppresses_the_address(
    tmp_path: Path, smtp_server: SmtpPeer
) -> None:
    setup = _setup(tmp_path, smtp_server)
    smtp_server.reject("reader00001@example.org")
    approve_all(setup, channels=["newsletter"])
    schedule_now(setup, channels=["newsletter"])
    assert send_due(setup) == {"failed": 1, "sent": 2}
    bounced = _email_rows(setup)["sub2"]
    assert bounced.state == "failed" and "550" in (bounced.last_error or "")
    with setup.db.session() as session:
        subscriber = session.scalars(
            select(t.Subscriber).where(t.Subscriber.email == "reader00001@example.org")
        ).one()
        assert (subscriber.suppressed_reason or "").startswith("bounce")


def test_a_connection_lost_after_the_message_was_sent_is_unknown_not_resent(
    tmp_path: Path, smtp_server: SmtpPeer
) -> None:
    setup = _setup(tmp_path, smtp_server, subscribers=1)
    smtp_server.drop_after_next_data(1)
    approve_all(setup, channels=["newsletter"])
    schedule_now(setup, channels=["newsletter"])
    assert send_due(setup) == {"unknown": 1}
    assert send_due(setup, at=timedelta(minutes=10)) == {}
    with setup.db.session() as session:
        result = ledger.sweep(session, now=utcnow() + timedelta(minutes=10))
    assert result["unknown"] == 0
    assert _email_rows(setup)["sub1"].state == "unknown", "email waits for a person"


def test_rejected_renditions_never_send(tmp_path: Path, smtp_server: SmtpPeer) -> None:
    setup = _setup(tmp_path, smtp_server)
    approve_all(setup)
    schedule_now(setup)
    with setup.db.session() as session:
        row = session.get(t.Article, setup.article_id)
        assert row is not None
        services.decide_article(
            session, row, user_by_email(session, APPROVER), "reject", comment="wrong photo credit"
        )
    assert send_due(setup) == {"skipped": 4}
    assert smtp_server.messages == []
    with setup.db.session() as session:
        states = {d.state for d in session.scalars(select(t.Delivery))}
    assert states == {"cancelled"}


def test_a_channel_that_cannot_be_opened_is_marked_and_its_mail_held(
    tmp_path: Path, smtp_server: SmtpPeer
) -> None:
    db = Database(f"sqlite:///{tmp_path / 'send.db'}")
    db.migrate()
    options = {
        **smtp_options(smtp_server.host, smtp_server.port),
        "username": "news",
        "password": "pw",
    }
    setup = seed_setup(db, settings_for(db.url, tmp_path), subscribers=2, email=options)
    approve_all(setup, channels=["newsletter"])
    schedule_now(setup, channels=["newsletter"])
    # The operator changed DISTRIBUTOR_SECRET_KEY: the stored SMTP password no longer opens.
    setup.settings = setup.settings.model_copy(update={"secret_key": SecretStr("another key")})
    assert send_due(setup) == {"held": 2}
    assert smtp_server.messages == []
    with setup.db.session() as session:
        channel = session.scalars(select(t.Channel).where(t.Channel.name == "newsletter")).one()
        assert channel.status == "error" and "secret key" in channel.status_detail
        states = {
            d.state
            for d in session.scalars(
                select(t.Delivery).where(t.Delivery.subscriber_id.is_not(None))
            )
        }
    assert states == {"pending"}
    assert send_due(setup) == {}, "the dispatcher leaves a broken channel alone"


def test_each_newsletter_batch_leaves_one_send_entry_in_the_audit_log(
    tmp_path: Path, smtp_server: SmtpPeer
) -> None:
    setup = _setup(tmp_path, smtp_server)
    approve_all(setup, channels=["newsletter"])
    schedule_now(setup, channels=["newsletter"])
    assert send_due(setup) == {"sent": 3}
    with setup.db.session() as session:
        sends = session.scalars(select(t.AuditEvent).where(t.AuditEvent.action == "send")).all()
    assert [event.article_id for event in sends] == [setup.article_id]
    assert sends[0].detail["newsletter_batch"] == {"sent": 3}
