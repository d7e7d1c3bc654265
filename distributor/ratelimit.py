"""Per-account rate limits shared by every worker: one token bucket per channel.

A bucket holds up to ``RateLimit.requests`` tokens and refills at ``requests / per_seconds``
a second. Each publish takes one token (one per post of a thread); a delivery that finds no
token goes back to ``pending`` until one is free, so a busy account delays only its own
deliveries. When the platform itself says "too many" (a 429 with its reset time), the bucket
is blocked until then, so the account's other deliveries wait too instead of each collecting
its own 429; channels that publish no limit get an unmetered bucket that carries only those
blocks.

Two stores with the same semantics: Redis (one atomic Lua script) when the broker is Redis,
and the database (a row per bucket, taken under the write lock: ``BEGIN IMMEDIATE`` on
SQLite, ``SELECT … FOR UPDATE`` on PostgreSQL) in the embedded single-machine mode.
Times are epoch seconds passed in by the caller, so every worker uses the same arithmetic
and tests can step time without sleeping.
"""

from __future__ import annotations

import time
from typing import Protocol

import redis
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from distributor.channels.base import RateLimit
from distributor.config import Settings
from distributor.storage import Database
from distributor.storage import tables as t

# Refills are float sums (and Redis round-trips them through strings): a token "just" due
# must not come out as a wait of 1e-14 s.
_EPSILON = 1e-9


# For channels that publish no per-account limit: the bucket never runs dry, but a block set
# after the platform answered "too many requests" still holds the account until its reset.
UNMETERED = RateLimit(requests=1_000_000, per_seconds=1.0)


def bucket_key(channel_id: int) -> str:
    return f"channel:{channel_id}"


class RateLimiter(Protocol):
    def take(self, key: str, limit: RateLimit, *, cost: int = 1, now: float | None = None) -> float:
        """Take ``cost`` tokens: 0.0 when taken, else the seconds until they will be there
        (nothing is taken then)."""

    def block(self, key: str, seconds: float, *, now: float | None = None) -> None:
        """The platform refused for ``seconds``: no token is handed out before then."""


def _refill(tokens: float, stamp: float, limit: RateLimit, now: float) -> tuple[float, float]:
    rate = limit.requests / limit.per_seconds
    return min(float(limit.requests), tokens + max(0.0, now - stamp) * rate), rate


def decide(
    tokens: float, stamp: float, blocked_until: float, limit: RateLimit, cost: int, now: float
) -> tuple[float, float]:
    """The bucket arithmetic, shared by the database store and mirrored in the Lua script:
    returns (tokens left, seconds to wait); a wait of 0 means the tokens were taken."""
    cost = max(1, min(cost, limit.requests))  # a thread longer than the bucket still goes
    if now < blocked_until:
        return tokens, blocked_until - now
    tokens, rate = _refill(tokens, stamp, limit, now)
    if tokens >= cost - _EPSILON:
        return max(0.0, tokens - cost), 0.0
    return tokens, (cost - tokens) / rate


# KEYS[1] bucket hash; ARGV: capacity, per_seconds, cost, now, block_seconds (0 = take).
_LUA = """
local capacity = tonumber(ARGV[1])
local per = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local now = tonumber(ARGV[4])
local block = tonumber(ARGV[5])
-- %.17g keeps every bit of a double through the string round trip
local function fmt(x) return string.format('%.17g', x) end
local state = redis.call('HMGET', KEYS[1], 'tokens', 'stamp', 'blocked')
local tokens = tonumber(state[1]) or capacity
local stamp = tonumber(state[2]) or now
local blocked = tonumber(state[3]) or 0
local ttl = math.ceil(per * 2 + 60)
if block > 0 then
  blocked = math.max(blocked, now + block)
  redis.call('HSET', KEYS[1], 'tokens', fmt(tokens), 'stamp', fmt(stamp), 'blocked', fmt(blocked))
  redis.call('EXPIRE', KEYS[1], ttl + math.ceil(block))
  return '0'
end
if now < blocked then
  return tostring(blocked - now)
end
local rate = capacity / per
tokens = math.min(capacity, tokens + math.max(0, now - stamp) * rate)
cost = math.max(1, math.min(cost, capacity))
local wait = 0
if tokens >= cost - 1e-9 then
  tokens = math.max(0, tokens - cost)
else
  wait = (cost - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', fmt(tokens), 'stamp', fmt(now), 'blocked', fmt(blocked))
redis.call('EXPIRE', KEYS[1], ttl)
return tostring(wait)
"""


class RedisRateLimiter:
    def __init__(self, client: redis.Redis, prefix: str = "distributor:ratelimit:") -> None:
        self.client = client
        self.prefix = prefix
        self._script = client.register_script(_LUA)

    def _run(self, key: str, limit: RateLimit, cost: int, now: float, block: float) -> float:
        args: list[str | int | float] = [
            limit.requests,
            limit.per_seconds,
            cost,
            repr(now),
            repr(block),
        ]
        return float(self._script(keys=[self.prefix + key], args=args))

    def take(self, key: str, limit: RateLimit, *, cost: int = 1, now: float | None = None) -> float:
        return self._run(key, limit, cost, time.time() if now is None else now, 0.0)

    def block(self, key: str, seconds: float, *, now: float | None = None) -> None:
        if seconds > 0:
            # The limit only shapes the refill; blocking keeps the stored tokens as they are.
            self._run(key, RateLimit(1, 1.0), 1, time.time() if now is None else now, seconds)


class DatabaseRateLimiter:
    def __init__(self, db: Database) -> None:
        self.db = db

    def _row(self, session: Session, key: str, full: float, now: float) -> t.RateBucket:
        postgresql = self.db.is_postgresql
        insert = pg_insert if postgresql else sqlite_insert
        session.execute(
            insert(t.RateBucket)
            .values(key=key, tokens=full, stamp=now, blocked_until=0.0)
            .on_conflict_do_nothing(index_elements=["key"])
        )
        query = select(t.RateBucket).where(t.RateBucket.key == key)
        if postgresql:
            query = query.with_for_update()
        row = session.scalars(query).one()
        return row

    def take(self, key: str, limit: RateLimit, *, cost: int = 1, now: float | None = None) -> float:
        now = time.time() if now is None else now
        with self.db.session() as session:  # BEGIN IMMEDIATE on SQLite: one taker at a time
            row = self._row(session, key, float(limit.requests), now)
            tokens, wait = decide(row.tokens, row.stamp, row.blocked_until, limit, cost, now)
            if now >= row.blocked_until:
                row.tokens, row.stamp = tokens, now
            return wait

    def block(self, key: str, seconds: float, *, now: float | None = None) -> None:
        if seconds <= 0:
            return
        now = time.time() if now is None else now
        with self.db.session() as session:
            row = self._row(session, key, 0.0, now)
            row.blocked_until = max(row.blocked_until, now + seconds)


def limiter_for(settings: Settings, db: Database) -> RateLimiter:
    """Redis when the broker is Redis (shared by workers on several machines), else the
    database the embedded mode already shares between its processes."""
    if settings.uses_embedded_broker or not settings.broker_url.startswith("redis"):
        return DatabaseRateLimiter(db)
    return RedisRateLimiter(redis.Redis.from_url(settings.broker_url))
