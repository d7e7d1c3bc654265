"""One social channel driven through the real ledger and Sender, for adapter fault tests.

The rendition is set to a given post (as if the comms team had written it), approved and
scheduled now, so a test controls exactly what the platform fake receives."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from distributor.domain import PostRendition, canonical_hash
from distributor.sending import Sender
from distributor.storage import Database
from distributor.storage import tables as t
from distributor.storage.tables import utcnow
from tests.factories import Setup, approve_all, schedule_now, seed_setup, send_due, settings_for

CHANNEL = "network"


def one_channel_setup(
    tmp_path: Path,
    kind: str,
    options: dict[str, Any],
    post: PostRendition,
    *,
    http_timeout: float = 5.0,
) -> Setup:
    db = Database(f"sqlite:///{tmp_path / 'ledger.db'}")
    db.migrate()
    settings = settings_for(db.url, tmp_path, http_timeout_seconds=http_timeout)
    setup = seed_setup(db, settings, subscribers=0, social=[(CHANNEL, kind, options)])
    with db.session() as session:
        rendition = session.scalars(
            select(t.Rendition).join(t.Channel).where(t.Channel.name == CHANNEL)
        ).one()
        payload = {**post.to_dict(), "kind": "post"}
        rendition.payload = payload
        rendition.error = None
        rendition.content_hash = canonical_hash(payload)
    approve_all(setup, channels=[CHANNEL])
    schedule_now(setup, channels=[CHANNEL])
    return setup


def delivery(setup: Setup) -> t.Delivery:
    with setup.db.session() as session:
        return session.scalars(
            select(t.Delivery).join(t.Channel).where(t.Channel.name == CHANNEL)
        ).one()


def channel_row(setup: Setup) -> t.Channel:
    with setup.db.session() as session:
        return session.scalars(select(t.Channel).where(t.Channel.name == CHANNEL)).one()


def reconcile(setup: Setup) -> dict[str, int]:
    """What the sweeper's reconciliation does for ``unknown`` rows."""
    return Sender(setup.db, setup.settings).reconcile()


def send_when_due(setup: Setup) -> dict[str, int]:
    """Let the delivery's retry time pass, then tick the dispatcher."""
    with setup.db.session() as session:
        row = session.scalars(
            select(t.Delivery).join(t.Channel).where(t.Channel.name == CHANNEL)
        ).one()
        row.not_before = utcnow() - timedelta(seconds=1)
    return send_due(setup)
