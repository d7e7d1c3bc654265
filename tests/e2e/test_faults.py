"""Crashes and losses in the middle of real sends: each recipient still gets one message."""

from __future__ import annotations

from sqlalchemy import select

from distributor import delivery as ledger
from distributor.config import get_settings
from distributor.storage import get_database
from distributor.storage import tables as t
from distributor.storage.tables import utcnow
from tests.e2e.conftest import SmtpSink
from tests.factories import approve_all, schedule_now, seed_setup, smtp_options, states
from tests.peers.stack import Stack, wait_for

FINAL = {"sent", "failed", "cancelled", "expired", "unknown"}


def _settled(db_states: dict[str, int], total: int) -> bool:
    return sum(v for k, v in db_states.items() if k in FINAL) == total


def _resolve_unknown_by_relay_evidence(sink: SmtpSink) -> int:
    """What the operator does for an ``unknown`` email: look the Message-ID up at the relay
    and mark it sent, or send it again. Returns how many rows needed it."""
    db = get_database(get_settings().database_url)
    seen = b"\n".join(sink.messages())
    with db.session() as session:
        unknown = list(session.scalars(select(t.Delivery).where(t.Delivery.state == "unknown")))
        for row in unknown:
            delivered = f"<{row.idem_key}@".encode() in seen
            ledger.resolve_unknown(
                session, row.id, sent=delivered, remote_url=None, user_id=None, now=utcnow()
            )
        return len(unknown)


def test_a_worker_killed_mid_send_leaves_every_recipient_with_exactly_one_message(
    stack: Stack, smtp_sink: SmtpSink
) -> None:
    settings = get_settings()
    db = get_database(settings.database_url)
    setup = seed_setup(
        db, settings, subscribers=1000, email=smtp_options("127.0.0.1", smtp_sink.port)
    )
    approve_all(setup)
    schedule_now(setup)
    worker = stack.start_worker()
    stack.start_beat()
    wait_for(
        lambda: sum(smtp_sink.counts().values()) >= 150,
        timeout=120,
        what="the send to be under way",
    )
    stack.kill(worker)
    stack.start_worker()
    wait_for(
        lambda: _settled(states(db), 1001),
        timeout=240,
        what=lambda: f"every delivery settled: {states(db)}",
    )
    counts = smtp_sink.counts()
    assert max(counts.values()) == 1, "nobody may get the newsletter twice"
    assert _resolve_unknown_by_relay_evidence(smtp_sink) <= 2
    wait_for(
        lambda: states(db).get("sent") == 1001,
        timeout=120,
        what=lambda: f"the resends: {states(db)}",
    )
    counts = smtp_sink.counts()
    assert len(counts) == 1000 and set(counts.values()) == {1}


def test_a_flushed_broker_delays_the_send_but_loses_nothing(
    stack: Stack, smtp_sink: SmtpSink
) -> None:
    redis = getattr(stack, "redis", None)
    settings = get_settings()
    db = get_database(settings.database_url)
    setup = seed_setup(
        db, settings, subscribers=200, email=smtp_options("127.0.0.1", smtp_sink.port)
    )
    approve_all(setup)
    schedule_now(setup)
    # Only the dispatcher runs: the send tasks pile up in the broker, unconsumed.
    dispatcher = stack.start_worker(concurrency=1, queues="render")
    stack.start_beat()
    wait_for(
        lambda: states(db).get("claimed", 0) == 201,
        timeout=60,
        what="deliveries dispatched to the queue",
    )
    stack.kill(dispatcher)
    if redis is not None:
        redis.flushall()
    else:  # the embedded broker: the same loss, its message table emptied
        from sqlalchemy import create_engine, text

        engine = create_engine(settings.broker_url.removeprefix("sqla+"))
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM kombu_message"))
        engine.dispose()
    stack.start_worker()
    wait_for(
        lambda: states(db).get("sent") == 201,
        timeout=180,
        what=lambda: f"all sent after the loss: {states(db)}",
    )
    counts = smtp_sink.counts()
    assert len(counts) == 200 and set(counts.values()) == {1}
