"""The review thread of an article: remarks with their authors and times."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from distributor.approval import require_role
from distributor.domain import Role
from distributor.storage import tables as t
from distributor.storage.tables import utcnow

MAX_COMMENT = 5000


class CommentError(ValueError):
    pass


@dataclass(frozen=True)
class CommentView:
    id: int
    author: str
    body: str
    at: datetime


def add_comment(session: Session, article_id: int, user: t.User, body: str) -> t.Comment:
    require_role(user, Role.EDITOR, Role.APPROVER, Role.ADMIN)
    text = body.strip()
    if not text:
        raise CommentError("a comment cannot be empty")
    if len(text) > MAX_COMMENT:
        raise CommentError(f"a comment can have at most {MAX_COMMENT} characters")
    if session.get(t.Article, article_id) is None:
        raise LookupError(f"no article {article_id}")
    comment = t.Comment(article_id=article_id, user_id=user.id, body=text, created_at=utcnow())
    session.add(comment)
    session.flush()
    session.add(
        t.AuditEvent(
            user_id=user.id,
            action="comment",
            article_id=article_id,
            detail={"comment_id": comment.id},
        )
    )
    return comment


def thread(session: Session, article_id: int) -> list[CommentView]:
    """Oldest first, one query."""
    rows = session.execute(
        select(t.Comment, t.User.name)
        .join(t.User, t.User.id == t.Comment.user_id)
        .where(t.Comment.article_id == article_id)
        .order_by(t.Comment.created_at, t.Comment.id)
    ).all()
    return [CommentView(c.id, name, c.body, c.created_at) for c, name in rows]
