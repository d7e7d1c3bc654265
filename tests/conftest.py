"""Shared fixtures. Peer servers (SMTP, Mastodon, Bluesky PDS, Redis, PostgreSQL) live in
``tests/peers``; each test run gets its own database and its own Redis."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = [
    "tests.peers.databases",
    "tests.peers.redis",
    "tests.peers.stack",
    "tests.peers.images",
    "tests.peers.bluesky",
    "tests.peers.mastodon",
    "tests.peers.smtp",
    "tests.peers.twitter_text",
]

FIXTURES = Path(__file__).parent / "fixtures"
SEED_ARTICLE = FIXTURES / "articles" / "ishr-civil-society-meets-secretary-general.txt"
SEED_FEED = FIXTURES / "feeds" / "ishr-news.rss"


@pytest.fixture
def seed_text() -> str:
    return SEED_ARTICLE.read_text(encoding="utf-8")


@pytest.fixture
def seed_feed_bytes() -> bytes:
    return SEED_FEED.read_bytes()
