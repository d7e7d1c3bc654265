"""Shared token buckets: the same behaviour from the database store (SQLite, PostgreSQL) and
the Redis store, with several workers taking from one bucket at once."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from distributor.channels.base import RateLimit
from distributor.channels.x import X
from distributor.domain import PostRendition
from distributor.ratelimit import (
    DatabaseRateLimiter,
    RateLimiter,
    RedisRateLimiter,
    bucket_key,
    decide,
    limiter_for,
)
from distributor.sending import Sender
from distributor.storage import Database
from distributor.storage.tables import utcnow
from tests.channels.posting import channel_row, post_setup, the_row
from tests.factories import send_due, settings_for
from tests.peers.databases import drop_pg_database, make_database_url
from tests.peers.fakes.x import FakeX
from tests.peers.redis import RedisPeer

FIVE_A_MINUTE = RateLimit(requests=5, per_seconds=60)
T0 = 1_800_000_000.0


@pytest.fixture(params=["sqlite", "postgresql", "redis"])
def make_limiter(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[[], RateLimiter]]:
    """A factory: each call is another worker's limiter on the same shared store."""
    if request.param != "redis":
        url = make_database_url(request.param, tmp_path)
        db = Database(url)
        db.migrate()
        yield lambda: DatabaseRateLimiter(db)
        db.dispose()
        if url.startswith("postgresql"):
            drop_pg_database(url)
    else:
        peer: RedisPeer = request.getfixturevalue("redis_server")
        peer.flushall()
        yield lambda: RedisRateLimiter(redis.Redis(port=peer.port))


def test_the_arithmetic_refills_at_the_published_rate() -> None:
    assert decide(5, T0, 0, FIVE_A_MINUTE, 1, T0) == (4, 0.0)
    assert decide(0, T0, 0, FIVE_A_MINUTE, 1, T0) == (0, 12.0)
    assert decide(0, T0, 0, FIVE_A_MINUTE, 1, T0 + 12) == (0, 0.0)
    assert decide(5, T0, T0 + 30, FIVE_A_MINUTE, 1, T0 + 10) == (5, 20.0)


def test_a_full_bucket_hands_out_its_tokens_then_says_when_the_next_is_free(
    make_limiter: Callable[[], RateLimiter],
) -> None:
    limiter = make_limiter()
    waits = [limiter.take("channel:1", FIVE_A_MINUTE, now=T0) for _ in range(6)]
    assert waits[:5] == [0.0] * 5
    assert waits[5] == pytest.approx(12.0)
    assert limiter.take("channel:1", FIVE_A_MINUTE, now=T0 + 11.9) > 0
    assert limiter.take("channel:1", FIVE_A_MINUTE, now=T0 + 12.0) == 0.0


def test_a_thread_takes_one_token_per_post(make_limiter: Callable[[], RateLimiter]) -> None:
    limiter = make_limiter()
    assert limiter.take("channel:1", FIVE_A_MINUTE, cost=3, now=T0) == 0.0
    assert limiter.take("channel:1", FIVE_A_MINUTE, cost=3, now=T0) == pytest.approx(12.0)
    assert limiter.take("channel:1", FIVE_A_MINUTE, cost=2, now=T0) == 0.0


def test_two_workers_share_one_bucket(make_limiter: Callable[[], RateLimiter]) -> None:
    workers = [make_limiter(), make_limiter()]
    granted: list[int] = [0, 0]
    start = threading.Barrier(2)

    def work(n: int) -> None:
        start.wait()
        for _ in range(8):
            if workers[n].take("channel:7", FIVE_A_MINUTE, now=T0) == 0.0:
                granted[n] += 1

    threads = [threading.Thread(target=work, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(granted) == 5, granted


def test_a_busy_account_does_not_delay_another(make_limiter: Callable[[], RateLimiter]) -> None:
    limiter = make_limiter()
    for _ in range(5):
        limiter.take("channel:1", FIVE_A_MINUTE, now=T0)
    assert limiter.take("channel:1", FIVE_A_MINUTE, now=T0) > 0
    assert limiter.take("channel:2", FIVE_A_MINUTE, now=T0) == 0.0


def test_a_platform_refusal_blocks_the_bucket_until_its_reset(
    make_limiter: Callable[[], RateLimiter],
) -> None:
    limiter = make_limiter()
    limiter.block("channel:1", 300, now=T0)
    assert limiter.take("channel:1", FIVE_A_MINUTE, now=T0 + 100) == pytest.approx(200)
    assert limiter.take("channel:1", FIVE_A_MINUTE, now=T0 + 300) == 0.0
    assert limiter.take("channel:2", FIVE_A_MINUTE, now=T0 + 100) == 0.0


# -- through the Sender: a busy account waits, the others go --------------------------------


@pytest.fixture(params=["database", "redis"])
def store_settings(request: pytest.FixtureRequest) -> dict[str, str]:
    """Settings that pick the bucket store: the embedded default, or a Redis broker."""
    if request.param == "database":
        return {}
    peer: RedisPeer = request.getfixturevalue("redis_server")
    peer.flushall()
    return {"broker_url": peer.url}


def test_the_store_follows_the_broker(tmp_path: Path, store_settings: dict[str, str]) -> None:
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    limiter = limiter_for(settings_for(db.url, tmp_path, **store_settings), db)
    expected = RedisRateLimiter if store_settings else DatabaseRateLimiter
    assert isinstance(limiter, expected)


def test_a_busy_account_delays_only_its_own_deliveries(
    tmp_path: Path, store_settings: dict[str, str]
) -> None:
    with FakeX() as fake:
        busy_options = {"access_token": fake.issue_tokens()[0], "api_base": fake.url}
        calm_options = {"access_token": fake.issue_tokens()[0], "api_base": fake.url}
        setup = post_setup(
            tmp_path,
            [("x-busy", "x", busy_options), ("x-calm", "x", calm_options)],
            PostRendition(platform="x", text="Two accounts", length=12, limit=280),
            **store_settings,
        )
        busy = channel_row(setup, "x-busy")
        limiter = Sender(setup.db, setup.settings).limiter
        assert X.rate_limit is not None
        limiter.take(bucket_key(busy.id), X.rate_limit, cost=X.rate_limit.requests)  # all used
        assert send_due(setup) == {"pending": 1, "sent": 1}
        assert the_row(setup, "x-calm").state == "sent"
        waiting = the_row(setup, "x-busy")
        assert waiting.state == "pending" and waiting.attempts == 0
        assert "rate limit" in (waiting.last_error or "")
        assert waiting.not_before > utcnow(), "due again when the bucket has a token"
        assert len(fake.posted()) == 1
        assert send_due(setup) == {}, "no busy loop: it waits in SQL, not in the queue"
