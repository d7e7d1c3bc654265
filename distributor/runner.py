"""`distributor up`: the whole service on one machine (web, one worker, beat), and the demo
seed (the sample article, an approver, a three-subscriber list and two outbox channels)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from rich.console import Console
from sqlalchemy import select

from distributor import accounts, articles, services
from distributor.broker import prepare_broker
from distributor.channel_setup import add_channel
from distributor.config import Settings, get_settings
from distributor.storage import tables as t
from distributor.subscribers import get_or_create_list, subscribe

SEED_ARTICLE = Path(__file__).parent / "seed" / "ishr-civil-society-meets-secretary-general.txt"
DEMO_ADMIN = "comms@ishr.example"
DEMO_SUBSCRIBERS = ("ana@example.org", "ben@example.org", "chloe@example.org")

console = Console()


def seed_demo(settings: Settings) -> str | None:
    """Load the demo once; returns the admin's API token when it was just created."""
    db = services.database(settings)
    token: str | None = None
    with db.session() as session:
        if session.scalars(select(t.User).limit(1)).first() is None:
            _, token = accounts.add_user(
                session, DEMO_ADMIN, name="Comms officer", role="admin", password="change-me-now"
            )
        if session.scalars(select(t.Channel).limit(1)).first() is None:
            mailing_list = get_or_create_list(session, "news")
            for address in DEMO_SUBSCRIBERS:
                subscribe(session, mailing_list, address)
            key = settings.secret_key.get_secret_value()
            add_channel(
                session,
                name="newsletter",
                kind="email",
                options={"list": "news", "transport": "outbox"},
                schedule=None,
                secret_key=key,
            )
            add_channel(
                session,
                name="social-outbox",
                kind="outbox",
                options={"directory": str(settings.outbox_dir / "social")},
                schedule=None,
                secret_key=key,
            )
    if SEED_ARTICLE.exists():
        found = services.load_source(str(SEED_ARTICLE), settings=settings)
        with db.session() as session:
            articles.ingest_articles(session, found, source=str(SEED_ARTICLE), settings=settings)
    return token


def _celery(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "workers.app", *args], env=os.environ.copy()
    )


def run_stack(*, host: str, port: int, seed: bool) -> None:
    import uvicorn

    from distributor.web.app import create_app

    settings = get_settings()
    services.database(settings)
    token = seed_demo(settings) if seed else None
    prepare_broker(settings.broker_url)
    beat_file = settings.data_dir / "celerybeat-schedule"
    children = [
        _celery(
            "worker",
            "-Q",
            "render,email,social",
            "--concurrency",
            "2",
            "--loglevel",
            "INFO",
            "--hostname",
            "distributor@%h",
        ),
        _celery("beat", "--loglevel", "INFO", "--schedule", str(beat_file)),
    ]

    def stop(*_: object) -> None:
        for child in children:
            child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()

    url = f"http://{host}:{port}/"
    console.print(f"[bold green]distributor is up:[/bold green] {url}")
    console.print(f"database {settings.database_url} · broker {settings.broker_url}")
    if token:
        console.print(f"demo admin {DEMO_ADMIN} (password change-me-now), API token: {token}")
    console.print(
        "try: distributor articles · distributor show 1 · "
        f"distributor approve 1 --as {DEMO_ADMIN} · distributor schedule 1 --now --as {DEMO_ADMIN}"
    )
    try:
        uvicorn.run(create_app(settings), host=host, port=port, log_level="warning")
    finally:
        stop()
