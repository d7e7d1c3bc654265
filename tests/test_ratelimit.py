"""Shared token buckets: the same behaviour from the database store (SQLite, PostgreSQL) and
the Redis store, with several workers taking from one bucket at once."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from distributor.channels.base import RateLimit
from distributor.ratelimit import DatabaseRateLimiter, RateLimiter, RedisRateLimiter, decide
from distributor.storage import Database
from tests.peers.databases import drop_pg_database, make_database_url
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
