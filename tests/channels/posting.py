"""Setups for sending one post through the real Sender and ledger to a platform fake.

The post's text is set by the test (not rendered), so these tests depend on the adapter and
the ledger only; rendering has its own tests."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select, update

from distributor.domain import PostRendition, canonical_hash
from distributor.sending import Sender
from distributor.storage import Database
from distributor.storage import tables as t
from distributor.storage.tables import utcnow
from tests.factories import Setup, approve_all, schedule_now, seed_setup, settings_for

LINK = "https://ishr.ch/latest-updates/civil-society-meets-secretary-general/"


def post_setup(
    tmp_path: Path,
    channels: list[tuple[str, str, dict[str, Any]]],
    post: PostRendition,
    *,
    database_url: str | None = None,
    **settings: Any,
) -> Setup:
    """The seed article with ``channels`` whose renditions are ``post``, approved and due now,
    on SQLite unless ``database_url`` says otherwise.

    ``http_timeout_seconds`` defaults to 2 s so a fake that holds its answer times out fast."""
    db = Database(database_url or f"sqlite:///{tmp_path / 'posts.db'}")
    db.migrate()
    settings.setdefault("http_timeout_seconds", 2.0)
    setup = seed_setup(db, settings_for(db.url, tmp_path, **settings), social=channels)
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
