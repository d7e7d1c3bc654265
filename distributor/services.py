"""Use cases shared by the CLI, the web API and the workers: the only layer that combines
storage, rendering, channels and the ledger."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from distributor import approval, articles, delivery, tokens
from distributor.config import Settings, get_settings
from distributor.delivery import Job
from distributor.domain import Article, Role
from distributor.sending import Sender
from distributor.storage import Database, get_database
from distributor.storage import tables as t
from distributor.storage.tables import utcnow

log = logging.getLogger(__name__)

_migrated: set[str] = set()


def database(settings: Settings | None = None) -> Database:
    """The configured database, migrated to the newest schema once per process."""
    settings = settings or get_settings()
    db = get_database(settings.database_url)
    if settings.database_url not in _migrated:
        db.migrate()
        _migrated.add(settings.database_url)
    return db


def sender(settings: Settings | None = None) -> Sender:
    settings = settings or get_settings()
    return Sender(database(settings), settings)


def zone(settings: Settings | None = None) -> ZoneInfo:
    return ZoneInfo((settings or get_settings()).org_timezone)


def dispatch_due(settings: Settings | None = None, *, now: datetime | None = None) -> list[Job]:
    settings = settings or get_settings()
    with database(settings).session() as session:
        return delivery.dispatch(
            session,
            now=now or utcnow(),
            lease=timedelta(seconds=settings.lease_seconds),
            limit=max(1000, settings.email_batch_size * 20),
            batch=settings.email_batch_size,
        )


def sweep_and_reconcile(settings: Settings | None = None) -> dict[str, Any]:
    settings = settings or get_settings()
    with database(settings).session() as session:
        swept = delivery.sweep(session, now=utcnow())
    reconciled = sender(settings).reconcile()
    return {**swept, **{f"reconciled_{k}": v for k, v in reconciled.items()}}


def check_tokens(settings: Settings | None = None) -> list[tokens.Expiring]:
    """The daily warning about access tokens that will expire (distributor.tokens)."""
    settings = settings or get_settings()
    return tokens.warn_expiring_tokens(database(settings), settings)


def ingest(
    sources: list[Article], *, source: str, settings: Settings | None = None
) -> list[articles.Stored]:
    settings = settings or get_settings()
    with database(settings).session() as session:
        return articles.ingest_articles(session, sources, source=source, settings=settings)


def load_source(
    source: str, *, url: str | None = None, settings: Settings | None = None
) -> list[Article]:
    from distributor.http import make_session
    from distributor.ingest import load_source as load

    settings = settings or get_settings()
    session = make_session(
        timeout=settings.http_timeout_seconds, allow_private=settings.allow_private_addresses
    )
    return load(source, session=session, base_url=settings.article_base_url, url=url)


@dataclass(frozen=True)
class Decision:
    channel: str
    decision: str
    content_hash: str


def decide_article(
    session: Session,
    article: t.Article,
    user: t.User,
    decision: str,
    *,
    channel_names: list[str] | None = None,
    comment: str = "",
) -> list[Decision]:
    """Approve or reject every rendition of an article, or the named channels only."""
    decisions: list[Decision] = []
    rows = session.execute(
        select(t.Rendition, t.Channel)
        .join(t.Channel, t.Channel.id == t.Rendition.channel_id)
        .where(t.Rendition.article_id == article.id)
        .order_by(t.Channel.id)
    ).all()
    known = {channel.name for _, channel in rows}
    for name in channel_names or []:
        if name not in known:
            raise LookupError(f"article {article.id} has no rendition for channel {name!r}")
    for rendition, channel in rows:
        if channel_names and channel.name not in channel_names:
            continue
        approval.decide(session, rendition, user, decision, comment)
        decisions.append(Decision(channel.name, decision, rendition.content_hash))
    if not decisions:
        raise LookupError(f"article {article.id} has no renditions (add a channel first)")
    return decisions


def edit_rendition(
    session: Session,
    rendition: t.Rendition,
    user: t.User,
    changes: dict[str, Any],
    settings: Settings,
) -> t.Rendition:
    """Apply a person's edit (``text`` and ``thread``, a post's replies, or an email's
    ``subject`` and ``preheader``); the new content gets a new hash, which voids earlier
    approvals."""
    from distributor.domain import canonical_hash
    from distributor.editing import rebuild_post

    approval.require_role(user, Role.EDITOR, Role.APPROVER, Role.ADMIN)
    payload = dict(rendition.payload or {})
    if payload.get("kind") == "email":
        for field in ("subject", "preheader"):
            if field in changes:
                from distributor.ingest.sanitize import single_line

                payload[field] = single_line(changes[field], 200)
    elif "text" in changes or "thread" in changes:
        rebuilt = rebuild_post(
            payload, changes.get("text", payload.get("text", "")), thread=changes.get("thread")
        )
        payload = {**rebuilt, "kind": "post"}
    rendition.payload = payload
    rendition.content_hash = canonical_hash(payload)
    rendition.edited_by = user.id
    rendition.updated_at = utcnow()
    approval.void_approvals(session, rendition)
    session.add(
        t.AuditEvent(
            user_id=user.id,
            action="edit",
            article_id=rendition.article_id,
            detail={
                "rendition_id": rendition.id,
                "fields": sorted(changes),
                "content_hash": rendition.content_hash,
            },
        )
    )
    return rendition


def poll_feeds(settings: Settings | None = None) -> dict[str, Any]:
    """Poll every registered feed with a conditional GET and ingest every new or changed item."""
    from distributor.http import make_session
    from distributor.ingest.feeds import fetch_feed, parse_feed

    settings = settings or get_settings()
    db = database(settings)
    http = make_session(
        timeout=settings.http_timeout_seconds, allow_private=settings.allow_private_addresses
    )
    summary: dict[str, Any] = {}
    with db.session() as session:
        feeds = [(f.id, f.url, f.etag, f.last_modified) for f in session.scalars(select(t.Feed))]
    for feed_id, url, etag, last_modified in feeds:
        outcome: str
        try:
            fetched = fetch_feed(
                http, url, etag=etag, last_modified=last_modified, max_bytes=settings.http_max_bytes
            )
            if fetched.status == "not_modified":
                outcome = "not modified"
                new_etag, new_modified = etag, last_modified
            else:
                parsed = parse_feed(fetched.body, source=url)
                stored = ingest(list(parsed.articles), source=url, settings=settings)
                created = sum(s.created for s in stored)
                updated = sum(s.changed and not s.created for s in stored)
                outcome = f"{created} new, {updated} updated"
                if parsed.problems:
                    outcome += "; skipped: " + "; ".join(str(p) for p in parsed.problems)
                new_etag, new_modified = fetched.etag, fetched.last_modified
            error = None
        except Exception as problem:  # a bad or unreachable feed must not stop the others
            outcome, error = f"error: {problem}", str(problem)
            new_etag, new_modified = etag, last_modified
        with db.session() as session:
            row = session.get(t.Feed, feed_id)
            if row is not None:
                row.etag, row.last_modified = new_etag, new_modified
                row.last_polled_at = utcnow()
                row.last_error = error
        summary[url] = outcome
    return summary


def add_feed(url: str, settings: Settings | None = None) -> t.Feed:
    with database(settings).session() as session:
        found = session.scalars(select(t.Feed).where(t.Feed.url == url)).first()
        if found:
            return found
        feed = t.Feed(url=url)
        session.add(feed)
        session.flush()
        return feed
