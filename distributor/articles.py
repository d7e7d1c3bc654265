"""Articles in storage: one row per identity, updates instead of duplicates, and the
renditions each enabled channel will send."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from distributor import approval
from distributor.config import Settings
from distributor.domain import Article, RenderError, canonical_hash
from distributor.storage import tables as t
from distributor.storage.tables import utcnow

EMAIL_KIND = "email"


@dataclass(frozen=True)
class Stored:
    row: t.Article
    created: bool
    changed: bool


def find_article(session: Session, article: Article) -> t.Article | None:
    keys = [k for k in (article.guid, article.url) if k]
    if not keys:
        return None
    clauses = []
    if article.guid:
        clauses.append(t.Article.guid == article.guid)
    if article.url:
        clauses.append(t.Article.url == article.url)
    row: t.Article | None = session.scalars(select(t.Article).where(or_(*clauses))).first()
    return row


def store_article(session: Session, article: Article, *, source: str) -> Stored:
    """Insert a new article, or update the one with the same GUID or canonical URL."""
    article.identity  # noqa: B018  (raises a clear error when there is neither)
    content_hash = article.content_hash()
    row = find_article(session, article)
    now = utcnow()
    if row is None:
        row = t.Article(
            guid=article.guid,
            url=article.url,
            title=article.title,
            content_hash=content_hash,
            data=article.to_dict(),
            source=source,
            created_at=now,
            updated_at=now,
        )
        session.add(row)
        session.flush()
        session.add(t.AuditEvent(action="ingest", article_id=row.id, detail={"source": source}))
        return Stored(row, created=True, changed=True)
    if row.content_hash == content_hash:
        if article.guid and not row.guid:
            row.guid = article.guid
        return Stored(row, created=False, changed=False)
    row.title = article.title
    row.content_hash = content_hash
    row.data = article.to_dict()
    row.guid = row.guid or article.guid
    row.url = row.url or article.url
    row.version += 1
    row.updated_at = now
    session.add(
        t.AuditEvent(
            action="update", article_id=row.id, detail={"source": source, "version": row.version}
        )
    )
    return Stored(row, created=False, changed=True)


def render_for_channel(
    article: Article, channel: t.Channel, settings: Settings, source: Any = None
) -> dict[str, Any] | RenderError:
    """``source``: the article's ``rendering.PostSource`` when rendering it for several
    channels, so what every post shares is worked out once."""
    from distributor import rendering

    if channel.kind == EMAIL_KIND:
        result: Any = rendering.render_email(article, email_context(settings))
    else:
        # Formatting options (threads, UTM, hashtags) from the channel's config "format".
        try:
            options = rendering.PostOptions.from_config((channel.config or {}).get("format"))
        except ValueError as error:
            return RenderError(f"channel {channel.name!r}: {error}", where=f"social/{channel.kind}")
        result = rendering.render_post(
            source or article,
            channel.kind,
            templates_dir=settings.templates_dir,
            thread=options.thread,
            utm=options.utm,
            max_hashtags=options.max_hashtags,
        )
    if isinstance(result, RenderError):
        return result
    payload: dict[str, Any] = result.to_dict()
    payload["kind"] = "email" if channel.kind == EMAIL_KIND else "post"
    return payload


def email_context(settings: Settings) -> Any:
    from distributor.rendering import EmailContext

    return EmailContext.from_settings(settings)


def render_renditions(session: Session, row: t.Article, settings: Settings) -> list[t.Rendition]:
    """(Re)render the article for every enabled channel. A changed rendition voids its approvals."""
    from distributor.rendering import PostSource

    article = Article.from_dict(row.data)
    source = PostSource.of(article)
    renditions: list[t.Rendition] = []
    for channel in session.scalars(
        select(t.Channel).where(t.Channel.enabled.is_(True)).order_by(t.Channel.id)
    ):
        result = render_for_channel(article, channel, settings, source)
        payload = None if isinstance(result, RenderError) else result
        error = str(result) if isinstance(result, RenderError) else None
        content_hash = canonical_hash(payload if payload is not None else {"error": error})
        rendition = session.scalars(
            select(t.Rendition).where(
                t.Rendition.article_id == row.id, t.Rendition.channel_id == channel.id
            )
        ).first()
        if rendition is None:
            rendition = t.Rendition(
                article_id=row.id,
                channel_id=channel.id,
                payload=payload,
                error=error,
                content_hash=content_hash,
                updated_at=utcnow(),
            )
            session.add(rendition)
            session.flush()
        elif rendition.content_hash != content_hash and rendition.edited_by is None:
            rendition.payload = payload
            rendition.error = error
            rendition.content_hash = content_hash
            rendition.updated_at = utcnow()
            approval.void_approvals(session, rendition)
        renditions.append(rendition)
    return renditions


def ingest_articles(
    session: Session, articles: list[Article], *, source: str, settings: Settings
) -> list[Stored]:
    stored: list[Stored] = []
    for article in articles:
        result = store_article(session, article, source=source)
        if result.changed:
            render_renditions(session, result.row, settings)
        stored.append(result)
    return stored


def get_article(session: Session, ref: str | int) -> t.Article:
    """An article by id, GUID or URL (as a person would type it on the command line)."""
    row: t.Article | None = None
    if isinstance(ref, int) or str(ref).isdigit():
        row = session.get(t.Article, int(ref))
    if row is None:
        row = session.scalars(
            select(t.Article).where(or_(t.Article.guid == str(ref), t.Article.url == str(ref)))
        ).first()
    if row is None:
        raise LookupError(f"no article {ref!r} (give its id, GUID or URL)")
    return row
