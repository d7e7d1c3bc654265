"""The embedded broker (kombu's SQLAlchemy transport on SQLite) needs its queue rows made
before a worker and beat start together: both create them on first use, and the loser of
that race dies with a UNIQUE constraint error."""

from __future__ import annotations

from kombu import Connection, Exchange, Queue  # type: ignore[attr-defined]

QUEUES = ("render", "email", "social")


def prepare_broker(url: str) -> None:
    if not url.startswith("sqla+"):
        return
    with Connection(url) as connection:
        channel = connection.channel()
        for name in QUEUES:
            Queue(name, Exchange(name), routing_key=name)(channel).declare()
