"""Read-only units of work on SQLite: they hold no write lock, and they cannot write."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from distributor.storage import Database
from distributor.storage import tables as t


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Database:
    db = Database(f"sqlite:///{tmp_path / 'store.db'}")
    db.migrate()
    return db


def test_a_reader_does_not_hold_up_a_writer(sqlite_db: Database, tmp_path: Path) -> None:
    with sqlite_db.read_session() as reader:
        assert reader.scalar(select(func.count()).select_from(t.Article)) == 0
        # Another process writing now must get the lock at once, not wait for the page.
        other = sqlite3.connect(tmp_path / "store.db", timeout=0, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        other.execute("INSERT INTO flags (name, value) VALUES ('probe', '1')")
        other.execute("COMMIT")
        other.close()


def test_a_read_only_unit_of_work_cannot_write(sqlite_db: Database) -> None:
    with pytest.raises(OperationalError, match="readonly"), sqlite_db.read_session() as reader:
        reader.add(t.Flag(name="sneaky", value="1"))
        reader.flush()
    with sqlite_db.session() as writer:  # the same pooled connection writes again afterwards
        writer.add(t.Flag(name="allowed", value="1"))
    with sqlite_db.read_session() as reader:
        assert reader.scalars(select(t.Flag.name)).all() == ["allowed"]
