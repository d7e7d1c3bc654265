"""A fresh database per test run: a new SQLite file, or a new PostgreSQL database created on
the server at DISTRIBUTOR_TEST_PG (default 127.0.0.1:5432, trust auth) and dropped after."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from distributor.storage import Database

PG_SERVER = os.environ.get("DISTRIBUTOR_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def _admin() -> psycopg.Connection:
    return psycopg.connect(PG_SERVER, autocommit=True, connect_timeout=5)


def postgres_available() -> bool:
    try:
        with _admin():
            return True
    except psycopg.Error:
        return False


def create_pg_database() -> str:
    name = f"distributor_test_{uuid.uuid4().hex[:12]}"
    with _admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_SERVER.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    return f"{base}/{name}"


def drop_pg_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    with _admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def make_database_url(kind: str, tmp_path: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'distributor.db'}"
    if not postgres_available():
        pytest.fail(
            f"PostgreSQL is not reachable at {PG_SERVER} (the README's test command starts it)"
        )
    return create_pg_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    url = make_database_url(request.param, tmp_path)
    yield url
    if url.startswith("postgresql"):
        from distributor.storage import _databases

        db = _databases.pop(url, None)
        if db is not None:
            db.dispose()
        drop_pg_database(url)


@pytest.fixture
def db(database_url: str) -> Database:
    database = Database(database_url)
    database.migrate()
    return database
