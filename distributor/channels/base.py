"""The channel contract every destination implements.

Error hierarchy (adapters raise nothing else)::

    ChannelError              the call failed; ``permanent`` says whether retrying can help,
    │                         ``retry_after`` (seconds) when the platform said when,
    │                         ``ambiguous`` when the effect may have happened (timeout after send),
    │                         ``rate_limited`` when the platform said "too many requests, wait"
    │                         (HTTP 429, Graph throttling codes, Telegram flood control): nothing
    │                         happened and nothing is wrong, so the ledger waits for
    │                         ``retry_after`` without counting a failed attempt. A 5xx that sends
    │                         ``Retry-After`` is a failure, not a rate limit.
    └── AuthExpired           the credentials are no longer accepted: the channel needs reconnecting

A channel MUST NOT touch storage: the delivery ledger records the ``Receipt`` it returns.
A channel MUST send ``idempotency_key`` to the platform when the platform supports one, and
MUST derive every remote key (record key, Message-ID) from it, never from the attempt.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Protocol

import requests
from pydantic import BaseModel

from distributor.domain import PostRendition


@dataclass(frozen=True)
class RateLimit:
    """A platform's published per-account limit: at most ``requests`` calls per ``per_seconds``.

    Shared by all workers through a token bucket keyed by the channel (see the sending layer)."""

    requests: int
    per_seconds: float


@dataclass(frozen=True)
class TokenGrant:
    """New credentials after a refresh. ``secrets`` are the config fields to replace (sealed by
    the caller before they are stored); ``expires_at`` is when the new access token expires."""

    secrets: dict[str, str]
    expires_at: datetime | None = None


@dataclass(frozen=True)
class Receipt:
    remote_id: str
    url: str | None = None


class ChannelError(Exception):
    def __init__(
        self,
        message: str,
        *,
        permanent: bool = False,
        retry_after: float | None = None,
        ambiguous: bool = False,
        rate_limited: bool = False,
    ) -> None:
        if rate_limited and (permanent or ambiguous):
            # A platform that says "wait" refused the call: it is neither final nor in doubt.
            raise ValueError("a rate-limited error is neither permanent nor ambiguous")
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.retry_after = retry_after
        self.ambiguous = ambiguous
        self.rate_limited = rate_limited


class AuthExpired(ChannelError):
    def __init__(self, message: str) -> None:
        super().__init__(message, permanent=True)


class StateStore(Protocol):
    """Where a channel keeps what it must remember between calls (a cached session).

    Implemented by the service over the database, so channels stay free of storage."""

    def load(self) -> dict[str, Any]: ...

    def save(self, state: dict[str, Any]) -> None: ...


class MemoryState:
    """A StateStore for previews and tests that need no database."""

    def __init__(self) -> None:
        self._state: dict[str, Any] = {}

    def load(self) -> dict[str, Any]:
        return dict(self._state)

    def save(self, state: dict[str, Any]) -> None:
        self._state = dict(state)


@dataclass(frozen=True)
class Outgoing:
    """One post to publish: the approved rendition plus the delivery's creation time,
    from which platforms that need a time-ordered key (Bluesky TIDs) derive it."""

    post: PostRendition
    created_at: datetime
    image_bytes: bytes | None = None
    image_mime: str | None = None


class Channel(ABC):
    """A social destination that publishes one approved post."""

    kind: ClassVar[str]
    Config: ClassVar[type[BaseModel]]
    rate_limit: ClassVar[RateLimit | None] = None
    # Whether publish() posts ``post.thread`` as replies; a channel may only ask for threads then.
    posts_threads: ClassVar[bool] = False

    def __init__(self, config: BaseModel, http: requests.Session, state: StateStore) -> None:
        self.config = config
        self.http = http
        self.state = state

    @abstractmethod
    def publish(self, message: Outgoing, *, idempotency_key: str) -> Receipt:
        """Publish once; raise ChannelError on failure."""

    def lookup(self, message: Outgoing, *, idempotency_key: str) -> Receipt | None:
        """After an ambiguous outcome: the post if it exists remotely, ``None`` if it surely
        does not. Raise ChannelError when the platform cannot tell."""
        raise ChannelError(f"{self.kind} cannot look up earlier posts", permanent=True)

    def check(self) -> str:
        """A "test connection": a short description of the account, or ChannelError."""
        return self.kind

    def refresh(self) -> TokenGrant:
        """Exchange the stored refresh token for new credentials. Called once by the sending
        layer after ``AuthExpired``; raise ``AuthExpired`` when the platform allows no refresh
        or refuses it (the channel then needs reconnecting)."""
        raise AuthExpired(f"{self.kind} credentials cannot be refreshed; reconnect the channel")

    def token_expires_at(self) -> datetime | None:
        """When the current access token expires, if the platform says (for the daily check)."""
        return None
