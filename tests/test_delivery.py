"""The ledger on SQLite and PostgreSQL: claims, guard, sweeps."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select, update

from distributor import delivery as ledger
from distributor.sending import Sender
from distributor.storage import Database
from distributor.storage import tables as t
from distributor.storage.tables import utcnow
from distributor.subscribers import unsubscribe
from distributor.unsubscribe import UnsubscribeTarget
from tests.factories import (
    approve_all,
    delivery_rows,
    edit_post,
    schedule_now,
    seed_setup,
    send_due,
    settings_for,
    states,
)

LEASE = timedelta(seconds=60)


def _setup(db: Database, tmp_path: Path, subscribers: int = 3):  # type: ignore[no-untyped-def]
    settings = settings_for(db.url, tmp_path)
    setup = seed_setup(db, settings, subscribers=subscribers)
    return setup


def test_two_dispatchers_at_once_claim_each_delivery_once(db: Database, tmp_path: Path) -> None:
    setup = _setup(db, tmp_path, subscribers=600)
    approve_all(setup)
    schedule_now(setup)
    claimed: list[list[int]] = [[], []]
    errors: list[BaseException] = []

    def run(slot: int) -> None:
        try:
            while True:
                with db.session() as session:
                    jobs = ledger.dispatch(session, now=utcnow(), lease=LEASE, limit=1000, batch=25)
                if not jobs:
                    return
                for job in jobs:
                    claimed[slot].extend(job.delivery_ids)
        except BaseException as error:  # pragma: no cover - surfaced below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    everything = claimed[0] + claimed[1]
    assert len(everything) == len(set(everything)) == 601
    assert states(db) == {"claimed": 601}


def test_an_edit_after_approval_cancels_the_scheduled_send(db: Database, tmp_path: Path) -> None:
    setup = _setup(db, tmp_path)
    approve_all(setup)
    schedule_now(setup)
    edit_post(setup, "social-outbox", "A different text https://ishr.ch/x")
    sender = Sender(db, setup.settings)
    with db.session() as session:
        jobs = ledger.dispatch(session, now=utcnow(), lease=LEASE, limit=100, batch=50)
    for job in jobs:
        if job.kind == "post":
            assert sender.send_post(job.delivery_ids[0]) == "skipped"
        else:
            sender.send_email_batch(list(job.delivery_ids))
    post = next(d for d in delivery_rows(db) if d.target == "post")
    assert post.state == "cancelled"
    assert "approval" in (post.last_error or "")
    assert not (setup.settings.outbox_dir / "social").exists() or not any(
        (setup.settings.outbox_dir / "social").iterdir()
    )


def test_an_unsubscribed_reader_is_not_mailed_even_after_scheduling(
    db: Database, tmp_path: Path
) -> None:
    setup = _setup(db, tmp_path)
    approve_all(setup)
    schedule_now(setup)
    with db.session() as session:
        first = session.scalars(select(t.Subscriber).order_by(t.Subscriber.id)).first()
        assert first is not None
        unsubscribe(session, UnsubscribeTarget(first.id, 1), via="test")
    send_due(setup)
    mailed = sorted(p.name for p in (setup.settings.outbox_dir / "newsletter").iterdir())
    assert len(mailed) == 2
    assert not any("sub1-" in name for name in mailed)
    assert states(db)["cancelled"] == 1


def test_paused_sending_dispatches_nothing_and_loses_nothing(db: Database, tmp_path: Path) -> None:
    setup = _setup(db, tmp_path)
    approve_all(setup)
    schedule_now(setup)
    with db.session() as session:
        ledger.set_paused(session, True)
    with db.session() as session:
        assert ledger.dispatch(session, now=utcnow(), lease=LEASE, limit=100, batch=50) == []
    with db.session() as session:
        ledger.set_paused(session, False)
    with db.session() as session:
        jobs = ledger.dispatch(session, now=utcnow(), lease=LEASE, limit=100, batch=50)
    assert sum(len(j.delivery_ids) for j in jobs) == 4


def test_a_send_window_that_closed_expires_instead_of_sending_late(
    db: Database, tmp_path: Path
) -> None:
    setup = _setup(db, tmp_path)
    approve_all(setup)
    schedule_now(setup)
    with db.session() as session:
        jobs = ledger.dispatch(
            session, now=utcnow() + timedelta(days=2), lease=LEASE, limit=100, batch=50
        )
    assert jobs == []
    assert states(db) == {"expired": 4}


def test_the_sweeper_returns_lost_claims_and_marks_interrupted_sends_unknown(
    db: Database, tmp_path: Path
) -> None:
    setup = _setup(db, tmp_path)
    approve_all(setup)
    schedule_now(setup)
    now = utcnow()
    with db.session() as session:
        ledger.dispatch(session, now=now, lease=LEASE, limit=100, batch=50)
        ids = [d.id for d in session.scalars(select(t.Delivery).order_by(t.Delivery.id))]
        claimed = ledger.claim_for_send(session, ids[0], now=now, lease=LEASE)
        assert claimed is not None
    with db.session() as session:
        result = ledger.sweep(session, now=now + timedelta(minutes=5))
    assert result == {"returned": 3, "unknown": 1, "expired": 0}
    assert states(db) == {"pending": 3, "unknown": 1}


def test_a_retryable_failure_waits_for_its_retry_time_in_sql(db: Database, tmp_path: Path) -> None:
    setup = _setup(db, tmp_path)
    approve_all(setup)
    schedule_now(setup)
    now = utcnow()
    with db.session() as session:
        ledger.dispatch(session, now=now, lease=LEASE, limit=100, batch=50)
        first = session.scalars(select(t.Delivery.id).order_by(t.Delivery.id)).first()
        assert first is not None
        assert ledger.claim_for_send(session, first, now=now, lease=LEASE) is not None
    with db.session() as session:
        state = ledger.record_failure(
            session,
            first,
            message="429",
            permanent=False,
            ambiguous=False,
            retry_after=42,
            max_attempts=5,
            now=now,
        )
    assert state == "pending"
    row = next(d for d in delivery_rows(db) if d.id == first)
    assert timedelta(seconds=41) < row.not_before - now < timedelta(seconds=43)
    with db.session() as session:
        session.execute(update(t.Delivery).values(state="pending").where(t.Delivery.id != first))
        again = ledger.dispatch(
            session, now=now + timedelta(seconds=10), lease=LEASE, limit=100, batch=50
        )
    assert first not in {i for j in again for i in j.delivery_ids}


def test_a_rate_limited_call_waits_without_using_an_attempt_until_its_window_closes(
    db: Database, tmp_path: Path
) -> None:
    setup = _setup(db, tmp_path)
    approve_all(setup)
    schedule_now(setup)
    now = utcnow()
    with db.session() as session:
        ledger.dispatch(session, now=now, lease=LEASE, limit=100, batch=50)
        first = session.scalars(select(t.Delivery.id).order_by(t.Delivery.id)).first()
        assert first is not None
        session.execute(
            update(t.Delivery)
            .where(t.Delivery.id == first)
            .values(not_after=now + timedelta(minutes=1))
        )
        assert ledger.claim_for_send(session, first, now=now, lease=LEASE) is not None
    with db.session() as session:
        state = ledger.record_rate_limited(
            session,
            first,
            until=now + timedelta(minutes=5),
            reason="waiting for x rate limit until later",
            now=now,
        )
    assert state == "pending"
    row = next(d for d in delivery_rows(db) if d.id == first)
    assert (row.state, row.attempts, row.lease_until) == ("pending", 0, None)
    assert abs(row.not_before - (now + timedelta(minutes=5))) < timedelta(seconds=1)
    assert row.last_error == "waiting for x rate limit until later"
    with db.session() as session:
        ledger.dispatch(session, now=now + timedelta(minutes=2), lease=LEASE, limit=100, batch=50)
    row = next(d for d in delivery_rows(db) if d.id == first)
    assert (row.state, row.last_error) == ("expired", "send window closed")


def test_rescheduling_after_an_edit_rearms_the_same_rows_with_a_new_key(
    db: Database, tmp_path: Path
) -> None:
    setup = _setup(db, tmp_path)
    approve_all(setup)
    schedule_now(setup)
    before = {d.target: d.idem_key for d in delivery_rows(db)}
    edit_post(setup, "social-outbox", "A corrected text https://ishr.ch/x")
    with db.session() as session:  # the dispatcher's guard cancelled the stale send
        session.execute(
            update(t.Delivery).where(t.Delivery.target == "post").values(state="cancelled")
        )
    approve_all(setup, channels=["social-outbox"])
    schedule_now(setup, channels=["social-outbox"])
    after = {d.target: (d.idem_key, d.state) for d in delivery_rows(db)}
    assert len(after) == 4, "no second row for the same post"
    assert after["post"][1] == "pending"
    assert after["post"][0] != before["post"]
    assert {k: v[0] for k, v in after.items() if k != "post"} == {
        k: v for k, v in before.items() if k != "post"
    }


def test_the_dispatcher_feeds_a_big_send_only_as_fast_as_it_drains(
    db: Database, tmp_path: Path
) -> None:
    setup = _setup(db, tmp_path, subscribers=250)
    approve_all(setup)
    schedule_now(setup)
    with db.session() as session:
        first = ledger.dispatch(session, now=utcnow(), lease=LEASE, limit=100, batch=50)
    emails = [i for job in first if job.kind == "email" for i in job.delivery_ids]
    posts = [i for job in first if job.kind == "post" for i in job.delivery_ids]
    assert len(emails) == 100 and len(posts) == 1, "a newsletter does not hold back the posts"
    with db.session() as session:
        assert ledger.dispatch(session, now=utcnow(), lease=LEASE, limit=100, batch=50) == []
    Sender(db, setup.settings).send_email_batch(emails[:50])
    with db.session() as session:
        again = ledger.dispatch(session, now=utcnow(), lease=LEASE, limit=100, batch=50)
    assert sum(len(job.delivery_ids) for job in again) == 50
