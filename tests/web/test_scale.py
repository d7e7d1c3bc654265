"""With 10,000 articles and 100,000 subscribers every listing is paginated and costs the same
few queries whatever the page or its size: statements are counted with a SQLAlchemy event
listener on the app's engine (no timings)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, insert, select

from distributor.storage import tables as t
from distributor.storage.tables import utcnow
from tests.factories import APPROVER, Setup
from tests.web.conftest import Browser, browser_for

ARTICLES = 10_000
SUBSCRIBERS = 100_000


def _bulk(setup: Setup) -> None:
    now = utcnow()
    with setup.db.session() as session:
        channels = list(session.scalars(select(t.Channel.id).order_by(t.Channel.id)))
        list_id = session.scalar(select(t.MailingList.id))
        user_id = session.scalar(select(t.User.id).where(t.User.email == APPROVER))
        first = int(session.scalar(select(t.Article.id).order_by(t.Article.id.desc())) or 0) + 1
        session.execute(
            insert(t.Article),
            [
                {
                    "id": first + n,
                    "guid": f"bulk-{n}",
                    "url": f"https://ishr.ch/latest-updates/bulk-{n}/",
                    "title": f"Bulk article {n}",
                    "content_hash": f"{n:064d}",
                    "data": {},
                    "source": "bulk",
                    "version": 1,
                    "created_at": now - timedelta(minutes=n),
                    "updated_at": now,
                }
                for n in range(ARTICLES)
            ],
        )
        renditions = [
            {
                "id": 1000 + n * len(channels) + i,
                "article_id": first + n,
                "channel_id": channel,
                "payload": {},
                "content_hash": f"{n:064d}",
                "updated_at": now,
            }
            for n in range(ARTICLES)
            for i, channel in enumerate(channels)
        ]
        session.execute(insert(t.Rendition), renditions)
        # Every third article approved; every fifth sent on its social channel.
        session.execute(
            insert(t.Approval),
            [
                {
                    "rendition_id": r["id"],
                    "content_hash": r["content_hash"],
                    "decision": "approve",
                    "user_id": user_id,
                    "comment": "",
                    "decided_at": now,
                }
                for r in renditions
                if (r["article_id"] - first) % 3 == 0
            ],
        )
        session.execute(
            insert(t.Delivery),
            [
                {
                    "article_id": r["article_id"],
                    "channel_id": r["channel_id"],
                    "rendition_id": r["id"],
                    "target": "post",
                    "content_hash": r["content_hash"],
                    "idem_key": f"bulk-{r['id']}",
                    "state": "sent",
                    "attempts": 1,
                    "not_before": now,
                    "remote_url": f"https://bsky.app/post/{r['id']}",
                    "created_at": now,
                    "updated_at": now,
                }
                for r in renditions
                if (r["article_id"] - first) % 15 == 0 and r["channel_id"] == channels[-1]
            ],
        )
        base = int(session.scalar(select(t.Subscriber.id).order_by(t.Subscriber.id.desc())) or 0)
        session.execute(
            insert(t.Subscriber),
            [
                {
                    "id": base + 1 + n,
                    "email": f"bulk{n:06d}@example.org",
                    "name": f"Reader {n}",
                    "created_at": now,
                }
                for n in range(SUBSCRIBERS)
            ],
        )
        session.execute(
            insert(t.Membership),
            [
                {
                    "list_id": list_id,
                    "subscriber_id": base + 1 + n,
                    "status": "subscribed" if n % 10 else "unsubscribed",
                    "changed_at": now,
                }
                for n in range(SUBSCRIBERS)
            ],
        )


@pytest.fixture
def big(setup: Setup) -> Setup:
    _bulk(setup)
    return setup


class Counter:
    def __init__(self) -> None:
        self.statements: list[str] = []

    def __call__(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if not statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK", "PRAGMA")):
            self.statements.append(statement)


@contextmanager
def counting(person: Browser) -> Iterator[Counter]:
    engine = person.client.app.state.db.engine  # type: ignore[attr-defined]
    counter = Counter()
    event.listen(engine, "before_cursor_execute", counter)
    try:
        yield counter
    finally:
        event.remove(engine, "before_cursor_execute", counter)


def _queries(person: Browser, url: str) -> int:
    with counting(person) as counter:
        answer = person.client.get(url)
    assert answer.status_code == 200, answer.text[:500]
    return len(counter.statements)


def test_the_inbox_pages_through_10000_articles_in_a_fixed_number_of_queries(big: Setup) -> None:
    officer = browser_for(big, APPROVER)
    first = _queries(officer, "/")
    assert first == _queries(officer, "/?page_no=200") == _queries(officer, "/?page_no=401")
    assert first <= 8
    page = officer.client.get("/?page_no=2").text
    assert "Page 2 of 401" in page and "10001 in all" in page
    filtered = officer.client.get("/?status=sent&channel=social-outbox").text
    assert "667 in all" in filtered  # every 15th article, 0…9990


def test_the_inbox_api_costs_the_same_for_25_or_200_articles(big: Setup) -> None:
    officer = browser_for(big, APPROVER)
    small = _queries(officer, "/api/inbox?per_page=25")
    large = _queries(officer, "/api/inbox?per_page=200&page_no=7")
    assert small == large <= 8
    body = officer.client.get("/api/inbox?per_page=200&status=awaiting").json()
    assert body["total"] == 6666 + 1  # bulk articles not approved (n % 3 != 0), and the seed
    assert len(body["articles"]) == 200


def test_subscribers_page_through_100000_addresses_in_a_fixed_number_of_queries(
    big: Setup,
) -> None:
    officer = browser_for(big, APPROVER)
    first = _queries(officer, "/subscribers")
    assert first == _queries(officer, "/subscribers?page_no=1500") <= 8
    assert _queries(officer, "/subscribers?q=bulk0999") <= 8
    lists = officer.client.get("/api/lists").json()
    news = next(x for x in lists if x["name"] == "news")
    assert news["subscribed"] == 90_000 + 3 and news["unsubscribed"] == 10_000


def test_deliveries_and_audit_log_page_in_a_fixed_number_of_queries(big: Setup) -> None:
    officer = browser_for(big, APPROVER)
    assert _queries(officer, "/ops") == _queries(officer, "/ops?page_no=10") <= 8
    assert _queries(officer, "/audit") == _queries(officer, "/audit?page_no=2") <= 8
