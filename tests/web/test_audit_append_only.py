"""The audit log is append-only in the database itself, on SQLite and PostgreSQL: rows can be
added, never changed or deleted; deleting an article only detaches its events."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.exc import DBAPIError

from distributor.storage import Database
from distributor.storage import tables as t


def _event(db: Database) -> int:
    with db.session() as session:
        article = t.Article(
            title="x", content_hash="0" * 64, data={}, source="test", url="https://x.example/1"
        )
        session.add(article)
        session.flush()
        event = t.AuditEvent(action="approve", article_id=article.id, detail={"a": 1})
        session.add(event)
        session.flush()
        return event.id


def test_an_audit_event_cannot_be_changed(db: Database) -> None:
    event_id = _event(db)
    with pytest.raises(DBAPIError, match="append-only"), db.session() as session:
        session.execute(
            update(t.AuditEvent).where(t.AuditEvent.id == event_id).values(action="reject")
        )


def test_an_audit_event_cannot_be_deleted(db: Database) -> None:
    event_id = _event(db)
    with pytest.raises(DBAPIError, match="append-only"), db.session() as session:
        session.execute(delete(t.AuditEvent).where(t.AuditEvent.id == event_id))


def test_deleting_an_article_keeps_its_events_detached(db: Database) -> None:
    event_id = _event(db)
    with db.session() as session:
        session.execute(delete(t.Article))
    with db.session() as session:
        kept = session.scalars(select(t.AuditEvent).where(t.AuditEvent.id == event_id)).one()
        assert kept.article_id is None and kept.action == "approve"
