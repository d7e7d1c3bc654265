"""Feeds polled on a schedule: conditional GETs, every new item, updates not duplicates."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy import func, select

from distributor import services
from distributor.storage import tables as t
from tests.conftest import SEED_FEED
from tests.ingest.feed_server import FeedServer


def test_polling_ingests_every_item_then_asks_only_for_changes(
    tmp_path: Path, use_env: Callable[[dict[str, str]], None]
) -> None:
    use_env(
        {
            "DISTRIBUTOR_DATA_DIR": str(tmp_path),
            "DISTRIBUTOR_DATABASE_URL": f"sqlite:///{tmp_path / 'feeds.db'}",
            "DISTRIBUTOR_SECRET_KEY": "test-secret-key-not-for-production",
            "DISTRIBUTOR_ALLOW_PRIVATE_ADDRESSES": "true",
        }
    )
    with FeedServer(SEED_FEED.read_bytes()) as server:
        url = server.url()
        services.add_feed(url)
        assert services.poll_feeds() == {url: "3 new, 0 updated"}

        assert services.poll_feeds() == {url: "not modified"}
        assert server.requests[-1]["If-None-Match"] == '"feed-v1"'

        server.body = SEED_FEED.read_bytes().replace(
            b"urging them to ensure civil society", b"urging them to guarantee that civil society"
        )
        server.etag = '"feed-v2"'
        assert services.poll_feeds() == {url: "0 new, 1 updated"}

    with services.database().session() as session:
        assert session.scalar(select(func.count()).select_from(t.Article)) == 3
        feed = session.scalars(select(t.Feed)).one()
        assert feed.etag == '"feed-v2"' and feed.last_error is None


def test_a_feed_that_fails_is_reported_and_polling_goes_on(
    tmp_path: Path, use_env: Callable[[dict[str, str]], None]
) -> None:
    use_env(
        {
            "DISTRIBUTOR_DATA_DIR": str(tmp_path),
            "DISTRIBUTOR_DATABASE_URL": f"sqlite:///{tmp_path / 'feeds.db'}",
            "DISTRIBUTOR_SECRET_KEY": "test-secret-key-not-for-production",
            "DISTRIBUTOR_ALLOW_PRIVATE_ADDRESSES": "true",
        }
    )
    with (
        FeedServer(b"<html><body>not a feed</body></html>") as broken,
        FeedServer(SEED_FEED.read_bytes()) as good,
    ):
        services.add_feed(broken.url())
        services.add_feed(good.url())
        result = services.poll_feeds()
    assert result[good.url()] == "3 new, 0 updated"
    assert result[broken.url()].startswith("error:")
    with services.database().session() as session:
        errors = {f.url: f.last_error for f in session.scalars(select(t.Feed))}
    assert errors[good.url()] is None and errors[broken.url()]
