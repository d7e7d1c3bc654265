"""Whole-system fixtures: the service's database, broker and worker processes, started fresh
for each test, with the SMTP sink as a separate process that outlives killed workers."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from distributor.storage import Database, _databases
from tests.peers.databases import create_pg_database, drop_pg_database, postgres_available
from tests.peers.local import free_port
from tests.peers.redis import RedisPeer
from tests.peers.stack import ROOT, Stack, stack_env, wait_for


class SmtpSink:
    """``python -m tests.peers.smtp`` in its own process, storing into a Maildir."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.maildir = workdir / "maildir"
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.peers.smtp",
                "--port",
                str(self.port),
                "--maildir",
                str(self.maildir),
            ],
            cwd=ROOT,
            stdout=(workdir / "smtp.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        import socket

        def listening() -> bool:
            with socket.socket() as sock:
                return sock.connect_ex(("127.0.0.1", self.port)) == 0

        wait_for(listening, timeout=20, what="the SMTP sink")

    def counts(self) -> dict[str, int]:
        from tests.peers.smtp import count_by_recipient

        return count_by_recipient(self.maildir)

    def messages(self) -> list[bytes]:
        new, cur = self.maildir / "new", self.maildir / "cur"
        return [p.read_bytes() for d in (new, cur) if d.exists() for p in sorted(d.iterdir())]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=15)


@pytest.fixture
def smtp_sink(tmp_path: Path) -> Iterator[SmtpSink]:
    sink = SmtpSink(tmp_path)
    yield sink
    sink.stop()


@pytest.fixture(params=["postgresql+redis", "sqlite+embedded"])
def stack(request: pytest.FixtureRequest, tmp_path: Path, use_env) -> Iterator[Stack]:  # type: ignore[no-untyped-def]
    """A stack on either production backing services or the embedded default."""
    if request.param == "postgresql+redis":
        if not postgres_available():
            pytest.fail("PostgreSQL is not reachable (the README's test command starts it)")
        database_url = create_pg_database()
        peer = RedisPeer()
        broker_url = peer.url
    else:
        database_url = f"sqlite:///{tmp_path / 'distributor.db'}"
        peer = None
        broker_url = f"sqla+sqlite:///{tmp_path / 'broker.db'}"
    env = stack_env(database_url=database_url, broker_url=broker_url, data_dir=tmp_path / "data")
    use_env(env)
    Database(database_url).migrate()
    running = Stack(env, tmp_path)
    running.redis = peer  # type: ignore[attr-defined]
    yield running
    running.stop()
    if peer is not None:
        peer.stop()
    db = _databases.pop(database_url, None)
    if db is not None:
        db.dispose()
    if database_url.startswith("postgresql"):
        drop_pg_database(database_url)
