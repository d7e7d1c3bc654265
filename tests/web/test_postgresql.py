"""The dashboard's queries on PostgreSQL (production) as well as SQLite: one officer's round
through every page and action."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from distributor import accounts
from distributor.storage import Database, _databases
from tests.factories import APPROVER, EDITOR, Setup, seed_setup, settings_for
from tests.peers.databases import drop_pg_database, make_database_url
from tests.web.conftest import PASSWORD, browser_for


@pytest.fixture(params=["sqlite", "postgresql"])
def any_setup(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Setup]:
    url = make_database_url(request.param, tmp_path)
    db = Database(url)
    db.migrate()
    made = seed_setup(db, settings_for(url, tmp_path))
    with db.session() as session:
        for email in (APPROVER, EDITOR):
            accounts.set_password(accounts.user_by_email(session, email), PASSWORD)
    yield made
    db.dispose()
    if url.startswith("postgresql"):
        found = _databases.pop(url, None)
        if found is not None:
            found.dispose()
        drop_pg_database(url)


def test_an_officer_goes_through_every_page_and_action(any_setup: Setup) -> None:
    setup = any_setup
    editor = browser_for(setup, EDITOR)
    editor.post(f"/articles/{setup.article_id}/comments", {"body": "Ready for review."})
    officer = browser_for(setup, APPROVER)
    assert officer.post(f"/articles/{setup.article_id}/approve").status_code == 303
    for status in ("awaiting", "approved", "rejected", "scheduled", "sent", "failed", "unknown"):
        assert officer.get(f"/?status={status}&channel=newsletter").status_code == 200
    assert "Civil society" in officer.get("/?status=approved").text
    assert (
        officer.post(f"/articles/{setup.article_id}/schedule", {"when": "now"}).status_code == 303
    )
    assert "scheduled" in officer.get("/?status=scheduled").text
    page = officer.get(f"/articles/{setup.article_id}").text
    assert "Ready for review." in page and "approved by Approver" in page
    assert officer.get("/ops?state=pending&channel=newsletter").status_code == 200
    assert officer.post(f"/ops/articles/{setup.article_id}/cancel").status_code == 303
    assert "cancelled" in officer.get("/ops").text
    assert officer.post(f"/ops/articles/{setup.article_id}/retry").status_code == 303
    assert "reader00001@example.org" in officer.get("/subscribers?q=READER00001").text
    assert officer.get(f"/audit?article={setup.article_id}&user={APPROVER}").status_code == 200
    assert officer.get("/channels").status_code == 200
    export = officer.client.get("/api/lists/1/export")
    assert len(export.text.splitlines()) == 4
