"""Setups for sending one post through the real Sender and ledger to a platform fake, and for
driving an adapter alone.

The post's text is set by the test (not rendered), so these tests depend on the adapter and
the ledger only; rendering has its own tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import delete, select, update

from distributor.channels.base import Channel, MemoryState, Outgoing
from distributor.domain import PostRendition, canonical_hash
from distributor.http import make_session
from distributor.sending import Sender
from distributor.storage import Database
from distributor.storage import tables as t
from distributor.storage.tables import utcnow
from tests.factories import Setup, approve_all, schedule_now, seed_setup, send_due, settings_for

LINK = "https://ishr.ch/latest-updates/civil-society-meets-secretary-general/"
# Image bytes as the ledger hands them over: adapters pass them on, fakes keep them.
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4

C = TypeVar("C", bound=Channel)


def adapter(kind: type[C], options: dict[str, Any], *, timeout: float = 5.0) -> C:
    """The adapter ``kind`` configured from ``options``, with a session that may reach the
    loopback fakes and state kept in memory."""
    config = kind.Config.model_validate(options)
    return kind(config, make_session(timeout=timeout, allow_private=True), MemoryState())


def outgoing(post: PostRendition, *, image: bool = False) -> Outgoing:
    """``post`` as the ledger hands it to an adapter: created now, with PNG bytes if ``image``."""
    return Outgoing(
        post=post,
        created_at=datetime.now(UTC),
        image_bytes=PNG if image else None,
        image_mime="image/png" if image else None,
    )


def post_setup(
    tmp_path: Path,
    channels: list[tuple[str, str, dict[str, Any]]],
    post: PostRendition,
    *,
    database_url: str | None = None,
    subscribers: int = 3,
    **settings: Any,
) -> Setup:
    """The seed article with ``channels`` whose renditions are ``post``, approved and due now,
    on SQLite unless ``database_url`` says otherwise.

    ``http_timeout_seconds`` defaults to 2 s so a fake that holds its answer times out fast."""
    db = Database(database_url or f"sqlite:///{tmp_path / 'posts.db'}")
    db.migrate()
    settings.setdefault("http_timeout_seconds", 2.0)
    setup = seed_setup(
        db, settings_for(db.url, tmp_path, **settings), subscribers=subscribers, social=channels
    )
    names = [name for name, _, _ in channels]
    payload = {**post.to_dict(), "kind": "post"}
    with db.session() as session:
        session.execute(
            update(t.Rendition)
            .where(
                t.Rendition.channel_id.in_(select(t.Channel.id).where(t.Channel.name.in_(names)))
            )
            .values(payload=payload, error=None, content_hash=canonical_hash(payload))
        )
    approve_all(setup, channels=names)
    schedule_now(setup, channels=names)
    return setup


def rows(setup: Setup, channel: str) -> list[t.Delivery]:
    with setup.db.session() as session:
        return list(
            session.scalars(
                select(t.Delivery)
                .join(t.Channel, t.Channel.id == t.Delivery.channel_id)
                .where(t.Channel.name == channel)
                .order_by(t.Delivery.id)
            )
        )


def the_row(setup: Setup, channel: str) -> t.Delivery:
    (row,) = rows(setup, channel)
    return row


def channel_row(setup: Setup, name: str) -> t.Channel:
    with setup.db.session() as session:
        return session.scalars(select(t.Channel).where(t.Channel.name == name)).one()


def make_due(setup: Setup, channel: str) -> None:
    """Time passes until the channel's deliveries are due (their not_before is now)."""
    with setup.db.session() as session:
        session.execute(
            update(t.Delivery)
            .where(
                t.Delivery.channel_id.in_(select(t.Channel.id).where(t.Channel.name == channel)),
                t.Delivery.state == "pending",
            )
            .values(not_before=utcnow() - timedelta(seconds=1))
        )


def assert_rate_limited_without_an_attempt(setup: Setup, channel: str) -> t.Delivery:
    """After the platform said "wait": the delivery is pending with no attempt used and says
    what it waits for, and dispatching it early changes nothing (the account's shared bucket
    holds it). Returns the row as the rate limit left it."""
    row = the_row(setup, channel)
    assert (row.state, row.attempts) == ("pending", 0), "being told to wait is no failure"
    kind = channel_row(setup, channel).kind
    assert (row.last_error or "").startswith(f"waiting for {kind} rate limit until")
    make_due(setup, channel)
    assert send_due(setup) == {"pending": 1}, "dispatched early, the account still waits"
    return row


def the_rate_limit_resets(setup: Setup) -> None:
    """Time passes beyond every reset the platforms named: the waiting deliveries are due and
    every account's shared bucket is unblocked and full again."""
    with setup.db.session() as session:
        session.execute(delete(t.RateBucket))
        session.execute(
            update(t.Delivery)
            .where(t.Delivery.state == "pending")
            .values(not_before=utcnow() - timedelta(seconds=1))
        )


def reconcile(setup: Setup) -> dict[str, int]:
    """What the sweeper does after an unknown: ask the platform."""
    return Sender(setup.db, setup.settings).reconcile()


def audit_actions(setup: Setup) -> list[str]:
    with setup.db.session() as session:
        return list(session.scalars(select(t.AuditEvent.action).order_by(t.AuditEvent.id)))
