"""What a reviewer sees of one article: every rendition as it will go out, measured by its
platform's rule, with warnings, the decision that applies to it and who last edited it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, undefer

from distributor import approval, articles, organisation
from distributor.comments import CommentView, thread
from distributor.inbox import ChannelStatus, channel_statuses
from distributor.rendering.text import MEASURES, Measurement, measure
from distributor.storage import tables as t


@dataclass(frozen=True)
class Decision:
    decision: str
    by: str
    at: datetime
    comment: str


@dataclass(frozen=True)
class RenditionView:
    id: int
    channel: str
    channel_kind: str
    kind: str  # "email" or "post"
    payload: dict[str, Any]
    content_hash: str
    error: str | None
    decision: Decision | None
    edited_by: str | None
    edited_by_id: int | None
    measurement: Measurement | None
    warnings: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        if self.error:
            return "render error"
        if self.decision is None:
            return "awaiting review"
        return "approved" if self.decision.decision == approval.APPROVE else "rejected"


@dataclass(frozen=True)
class ArticleReview:
    id: int
    title: str
    url: str | None
    version: int
    created_at: datetime
    renditions: list[RenditionView]
    statuses: list[ChannelStatus]
    comments: list[CommentView]
    two_person_rule: bool


def post_warnings(payload: dict[str, Any], measured: Measurement | None) -> list[str]:
    warnings = list(payload.get("warnings") or [])
    if measured is not None and not measured.fits:
        warnings.append(f"over the limit: {measured.detail}")
    image = payload.get("image") or {}
    if image.get("url") and not (image.get("alt") or "").strip():
        warnings.append("the image has no alt text")
    if image.get("url") and not (image.get("credit") or "").strip():
        warnings.append("the image has no credit")
    if payload.get("link") and not payload.get("card"):
        warnings.append("no link card")
    return warnings


def email_warnings(payload: dict[str, Any], article: dict[str, Any]) -> list[str]:
    warnings = list(payload.get("warnings") or [])
    if not (payload.get("preheader") or "").strip():
        warnings.append("no preheader: inboxes will show the first words of the email")
    if len(payload.get("subject") or "") > 90:
        warnings.append("the subject is longer than 90 characters and will be cut in inboxes")
    image = article.get("image") or {}
    if image.get("url") and not (image.get("alt") or "").strip():
        warnings.append("the image has no alt text")
    if image.get("url") and not (image.get("credit") or "").strip():
        warnings.append("the image has no credit")
    return warnings


def review_of(session: Session, article_id: int) -> ArticleReview:
    row = articles.get_article(session, article_id)
    users = dict(session.execute(select(t.User.id, t.User.name)).all())
    views: list[RenditionView] = []
    for rendition, channel in session.execute(
        select(t.Rendition, t.Channel)
        .join(t.Channel, t.Channel.id == t.Rendition.channel_id)
        .where(t.Rendition.article_id == row.id)
        .order_by(t.Channel.id)
        .options(undefer(t.Rendition.payload))
    ).all():
        payload = dict(rendition.payload or {})
        current = approval.current_decision(session, rendition)
        decision = (
            Decision(
                current.decision,
                users.get(current.user_id, "?"),
                current.decided_at,
                current.comment,
            )
            if current
            else None
        )
        kind = "email" if payload.get("kind") == "email" else "post"
        measured = None
        warnings: list[str] = []
        if rendition.error:
            pass
        elif kind == "post" and payload.get("platform") in MEASURES:
            measured = measure(payload["platform"], payload.get("text", ""))
            warnings = post_warnings(payload, measured)
        elif kind == "email":
            warnings = email_warnings(payload, row.data or {})
        views.append(
            RenditionView(
                id=rendition.id,
                channel=channel.name,
                channel_kind=channel.kind,
                kind=kind,
                payload=payload,
                content_hash=rendition.content_hash,
                error=rendition.error,
                decision=decision,
                edited_by=users.get(rendition.edited_by) if rendition.edited_by else None,
                edited_by_id=rendition.edited_by,
                measurement=measured,
                warnings=warnings,
            )
        )
    return ArticleReview(
        id=row.id,
        title=row.title,
        url=row.url,
        version=row.version,
        created_at=row.created_at,
        renditions=views,
        statuses=channel_statuses(session, [row.id]).get(row.id, []),
        comments=thread(session, row.id),
        two_person_rule=organisation.two_person_rule(session),
    )


def rendition_of(session: Session, article_id: int, rendition_id: int) -> t.Rendition:
    rendition = session.get(t.Rendition, rendition_id, options=[undefer(t.Rendition.payload)])
    if rendition is None or rendition.article_id != article_id:
        raise LookupError(f"article {article_id} has no rendition {rendition_id}")
    return rendition


def decide(
    session: Session,
    article_id: int,
    user: t.User,
    decision: str,
    *,
    channels: list[str] | None,
    comment: str,
    require_comment: bool = False,
) -> list[Any]:
    """Approve or reject (all channels, or some); a comment also joins the review thread."""
    from distributor.comments import CommentError, add_comment
    from distributor.services import decide_article

    note = comment.strip()
    if require_comment and decision == approval.REJECT and not note:
        raise CommentError("say why you reject it: a comment is required")
    row = articles.get_article(session, article_id)
    made = decide_article(session, row, user, decision, channel_names=channels, comment=note)
    if note:
        verb = "Approved" if decision == approval.APPROVE else "Rejected"
        which = ", ".join(channels) if channels else "all channels"
        add_comment(session, row.id, user, f"{verb} ({which}): {note}")
    return made
