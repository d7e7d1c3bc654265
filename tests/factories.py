"""Builders for whole setups: a configured database with users, channels, a list and the
seed article, through the same services the CLI uses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from distributor import accounts, articles, services
from distributor.channel_setup import add_channel
from distributor.config import Settings
from distributor.domain import Article
from distributor.ingest.plaintext import parse_plaintext
from distributor.scheduler import schedule_article
from distributor.storage import Database
from distributor.storage import tables as t
from distributor.storage.tables import utcnow
from distributor.subscribers import get_or_create_list, subscribe

SEED = (
    Path(__file__).parent
    / "fixtures"
    / "articles"
    / "ishr-civil-society-meets-secretary-general.txt"
)
APPROVER = "approver@ishr.example"
EDITOR = "editor@ishr.example"


@dataclass
class Setup:
    db: Database
    settings: Settings
    article_id: int


def settings_for(database_url: str, data_dir: Path, **extra: Any) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=data_dir,
        secret_key="test-secret-key-not-for-production",  # type: ignore[arg-type]
        public_url="https://news.example.org",
        allow_private_addresses=True,
        **extra,
    )


def seed_setup(
    db: Database,
    settings: Settings,
    *,
    subscribers: int = 3,
    email: dict[str, Any] | None = None,
    social: list[tuple[str, str, dict[str, Any]]] | None = None,
    article: Article | None = None,
) -> Setup:
    """Users, an email channel over ``email`` options (default: the outbox), the given social
    channels (default: one file outbox), ``subscribers`` addresses, and the seed article."""
    key = settings.secret_key.get_secret_value()
    with db.session() as session:
        accounts.add_user(session, APPROVER, name="Approver", role="approver", password=None)
        accounts.add_user(session, EDITOR, name="Editor", role="editor", password=None)
        news = get_or_create_list(session, "news")
        for n in range(subscribers):
            subscribe(session, news, f"reader{n:05d}@example.org", f"Reader {n}")
        add_channel(
            session,
            name="newsletter",
            kind="email",
            options=email or {"list": "news", "transport": "outbox"},
            schedule=None,
            secret_key=key,
        )
        for name, kind, options in (
            social
            if social is not None
            else [("social-outbox", "outbox", {"directory": str(settings.outbox_dir / "social")})]
        ):
            add_channel(
                session, name=name, kind=kind, options=options, schedule=None, secret_key=key
            )
        article = article or seed_article(settings)
        stored = articles.ingest_articles(session, [article], source=str(SEED), settings=settings)
        return Setup(db, settings, stored[0].row.id)


def seed_article(settings: Settings) -> Article:
    return parse_plaintext(SEED.read_text(encoding="utf-8"), base_url=settings.article_base_url)


def approve_all(setup: Setup, *, channels: list[str] | None = None) -> None:
    with setup.db.session() as session:
        user = accounts.user_by_email(session, APPROVER)
        row = session.get(t.Article, setup.article_id)
        assert row is not None
        services.decide_article(session, row, user, "approve", channel_names=channels)


def schedule_now(
    setup: Setup, *, at: datetime | None = None, channels: list[str] | None = None
) -> None:
    with setup.db.session() as session:
        user = accounts.user_by_email(session, APPROVER)
        row = session.get(t.Article, setup.article_id)
        assert row is not None
        schedule_article(
            session,
            row,
            user,
            when="at" if at else "now",
            at=at,
            zone=ZoneInfo(setup.settings.org_timezone),
            now=utcnow(),
            channel_names=channels,
        )


def states(db: Database) -> dict[str, int]:
    from distributor.delivery import counts_by_state

    with db.session() as session:
        return counts_by_state(session)


def delivery_rows(db: Database) -> list[t.Delivery]:
    with db.session() as session:
        return list(session.scalars(select(t.Delivery).order_by(t.Delivery.id)))


def send_due(setup: Setup, *, at: timedelta = timedelta(0)) -> dict[str, int]:
    """One dispatcher tick at ``now + at``, with every job sent in this process; counts the
    outcomes (``sent``, ``skipped``, ``pending``…)."""
    from distributor import delivery as ledger
    from distributor.sending import Sender

    sender = Sender(setup.db, setup.settings)
    total: dict[str, int] = {}
    with setup.db.session() as session:
        jobs = ledger.dispatch(
            session, now=utcnow() + at, lease=timedelta(minutes=1), limit=100, batch=50
        )
    for job in jobs:
        result = (
            sender.send_email_batch(list(job.delivery_ids))
            if job.kind == "email"
            else {sender.send_post(job.delivery_ids[0]): 1}
        )
        for key, value in result.items():
            total[key] = total.get(key, 0) + value
    return total


def smtp_options(host: str, port: int) -> dict[str, Any]:
    """An own mailing list ("news") sent over plain SMTP to a test peer."""
    return {"list": "news", "transport": "smtp", "host": host, "port": port, "starttls": False}


def edit_post(setup: Setup, channel: str, text: str) -> None:
    """An editor changes a post's text after it was approved."""
    from distributor.storage.tables import Channel, Rendition

    with setup.db.session() as session:
        rendition = session.scalars(
            select(Rendition).join(Channel).where(Channel.name == channel)
        ).one()
        services.edit_rendition(
            session,
            rendition,
            accounts.user_by_email(session, EDITOR),
            {"text": text},
            setup.settings,
        )
