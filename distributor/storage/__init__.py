"""Engine and session factory, and the schema migration entry point."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            # WAL lets the web, the worker and beat read while one of them writes.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()
            # pysqlite's own transaction handling defers BEGIN; emit it ourselves so that
            # "BEGIN IMMEDIATE" claims take the write lock up front.
            dbapi_connection.isolation_level = None

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # Units of work that write take the write lock up front; read-only ones (pages)
            # take none, so a reader never holds up a send, and SQLite refuses their writes.
            read_only = bool(conn.get_execution_options().get("read_only"))
            if conn.info.get("query_only") != read_only:
                conn.exec_driver_sql(f"PRAGMA query_only = {int(read_only)}")
                conn.info["query_only"] = read_only
            conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision."""
    import logging

    from alembic import command
    from alembic.config import Config

    # Every process migrates once at start; its routine chatter is not worth a log line.
    logging.getLogger("alembic").setLevel(logging.WARNING)

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


class Database:
    """One engine and its session factory."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.read_sessions = sessionmaker(
            self.engine.execution_options(read_only=True), expire_on_commit=False
        )

    @property
    def is_postgresql(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed on success, rolled back on error."""
        with self.sessions() as session, session.begin():
            yield session

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        """A unit of work that only reads. On SQLite it takes no write lock and may not write."""
        with self.read_sessions() as session, session.begin():
            yield session

    def migrate(self) -> None:
        migrate(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()


_databases: dict[str, Database] = {}


def get_database(url: str | None = None) -> Database:
    """The process-wide Database for ``url`` (default: the configured one)."""
    if url is None:
        from distributor.config import get_settings

        url = get_settings().database_url
    if url not in _databases:
        _databases[url] = Database(url)
    return _databases[url]
