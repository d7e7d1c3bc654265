"""Posts through the ledger and a real worker to the real Bluesky PDS and to mastodon-mock."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from distributor.config import get_settings
from distributor.domain import Image
from distributor.storage import get_database
from distributor.storage import tables as t
from tests.factories import approve_all, schedule_now, seed_article, seed_setup, states
from tests.peers.bluesky import BlueskyPeer
from tests.peers.images import ImageServer
from tests.peers.mastodon import MastodonPeer
from tests.peers.stack import Stack, wait_for

EMBEDDED = pytest.mark.parametrize("stack", ["sqlite+embedded"], indirect=True)
ALT = "UN Secretary-General Antonio Guterres with NGO representatives"


def _channels(pds: BlueskyPeer, mastodon: MastodonPeer) -> list[tuple[str, str, dict[str, Any]]]:
    _did, handle, password = pds.create_account(f"ishr{uuid.uuid4().hex[:8]}")
    return [
        (
            "bluesky",
            "bluesky",
            {"service_url": pds.url, "identifier": handle, "app_password": password},
        ),
        ("mastodon", "mastodon", {"base_url": mastodon.url, "access_token": mastodon.token}),
    ]


def _setup_posts(pds: BlueskyPeer, mastodon: MastodonPeer, images: ImageServer) -> Any:
    settings = get_settings()
    db = get_database(settings.database_url)
    article = seed_article(settings)
    article = dataclasses.replace(
        article,
        # mastodon-mock counts a URL in full (real Mastodon counts 23), so keep the post short
        # enough for both rules; the counting rule itself is tested in tests/rendering.
        lead="Members of six international NGOs spoke with UN Secretary-General Antonio Guterres.",
        categories=(*article.categories, "Human rights defenders"),
        image=Image(url=images.url, credit="UN Photo / Manuel Elias", alt=ALT),
    )
    setup = seed_setup(
        db, settings, subscribers=0, social=_channels(pds, mastodon), article=article
    )
    approve_all(setup)
    return setup


def _remote(db: Any, channel: str) -> t.Delivery:
    with db.session() as session:
        return session.scalars(
            select(t.Delivery).join(t.Channel).where(t.Channel.name == channel)
        ).one()


def _records(pds: BlueskyPeer, did: str) -> list[dict[str, Any]]:
    answer = pds.xrpc_get("com.atproto.repo.listRecords", repo=did, collection="app.bsky.feed.post")
    answer.raise_for_status()
    records: list[dict[str, Any]] = answer.json()["records"]
    return records


@EMBEDDED
def test_the_seed_post_lands_on_bluesky_with_a_link_facet_and_a_card_with_its_thumbnail(
    stack: Stack, bluesky_pds: BlueskyPeer, mastodon_server: MastodonPeer, image_server: ImageServer
) -> None:
    setup = _setup_posts(bluesky_pds, mastodon_server, image_server)
    stack.start_worker()
    stack.start_beat()
    schedule_now(setup)
    wait_for(
        lambda: states(setup.db).get("sent") == 2,
        timeout=90,
        what=lambda: f"both posts sent: {states(setup.db)} {stack.log_tail()}",
    )

    row = _remote(setup.db, "bluesky")
    did = row.remote_id.split("/")[2] if row.remote_id else ""
    records = _records(bluesky_pds, did)
    assert len(records) == 1
    post = records[0]["value"]
    url = seed_article(setup.settings).url
    assert url
    link = next(f for f in post["facets"] if f["features"][0]["$type"].endswith("#link"))
    encoded = post["text"].encode("utf-8")
    assert encoded[link["index"]["byteStart"] : link["index"]["byteEnd"]].decode() == url
    assert link["features"][0]["uri"] == url
    card = post["embed"]
    assert card["$type"] == "app.bsky.embed.external"
    assert card["external"]["uri"] == url
    thumb = card["external"]["thumb"]["ref"]["$link"]
    blob = bluesky_pds.xrpc_get("com.atproto.sync.getBlob", did=did, cid=thumb)
    assert blob.status_code == 200 and blob.content[:4] == b"\x89PNG"

    statuses = mastodon_server.statuses()
    assert len(statuses) == 1
    assert url in statuses[0]["content"]
    assert statuses[0]["media_attachments"][0]["description"] == ALT


@EMBEDDED
def test_a_worker_killed_after_the_platforms_accepted_leaves_one_post_each_and_the_ledger_sent(
    stack: Stack, bluesky_pds: BlueskyPeer, mastodon_server: MastodonPeer, image_server: ImageServer
) -> None:
    setup = _setup_posts(bluesky_pds, mastodon_server, image_server)
    # Every pool process that runs a post dies right after the platform accepted it.
    crashing = stack.start_worker(extra_env={"DISTRIBUTOR_FAULT_POINT": "after_post_call"})
    stack.start_beat()
    schedule_now(setup)
    wait_for(
        lambda: (
            len(mastodon_server.statuses()) == 1
            and states(setup.db).get("sending", 0)
            + states(setup.db).get("unknown", 0)
            + states(setup.db).get("sent", 0)
            == 2
        ),
        timeout=90,
        what=lambda: f"both posts accepted and the worker killed: {states(setup.db)}",
    )
    stack.kill(crashing)
    # A healthy worker runs the sweeper: stuck sends become unknown, then each platform is asked.
    stack.start_worker()
    wait_for(
        lambda: states(setup.db).get("sent") == 2,
        timeout=90,
        what=lambda: f"reconciled to sent: {states(setup.db)} {stack.log_tail()}",
    )
    with setup.db.session() as session:
        reconciled = session.scalars(
            select(t.AuditEvent).where(t.AuditEvent.action == "reconcile")
        ).all()
        attempts = session.scalars(select(t.Attempt.outcome).order_by(t.Attempt.id)).all()
    assert sorted(e.detail["found"] for e in reconciled) == [True, True]
    assert attempts.count("started") == 2, "nothing was sent a second time"
    row = _remote(setup.db, "bluesky")
    assert row.remote_id
    assert len(_records(bluesky_pds, row.remote_id.split("/")[2])) == 1
    assert len(mastodon_server.statuses()) == 1


@EMBEDDED
def test_a_mastodon_429_is_retried_after_the_reset_time_and_not_before(
    stack: Stack, bluesky_pds: BlueskyPeer, mastodon_server: MastodonPeer, image_server: ImageServer
) -> None:
    setup = _setup_posts(bluesky_pds, mastodon_server, image_server)
    reset = datetime.now(UTC) + timedelta(seconds=8)
    mastodon_server.inject_fault(
        "/api/v1/statuses",
        {
            "type": "ratelimit",
            "headers": {"X-RateLimit-Reset": reset.isoformat().replace("+00:00", "Z")},
        },
    )
    stack.start_worker()
    stack.start_beat()
    schedule_now(setup)
    wait_for(
        lambda: states(setup.db).get("sent") == 2,
        timeout=90,
        what=lambda: f"sent after the rate limit: {states(setup.db)}",
    )
    with setup.db.session() as session:
        row = session.scalars(
            select(t.Delivery).join(t.Channel).where(t.Channel.name == "mastodon")
        ).one()
        attempts = list(
            session.scalars(
                select(t.Attempt).where(t.Attempt.delivery_id == row.id).order_by(t.Attempt.id)
            )
        )
    outcomes = [a.outcome for a in attempts]
    assert outcomes == ["started", "pending", "started", "sent"]
    retried_at = attempts[2].started_at
    assert retried_at >= reset - timedelta(seconds=1)
    assert len(mastodon_server.statuses()) == 1
