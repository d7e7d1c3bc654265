"""Fixtures for the dashboard: a seeded database, people with passwords, and a browser-like
client that keeps cookies and finds the CSRF token in the pages it gets."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from distributor import accounts
from distributor.storage import Database
from distributor.web.app import create_app
from tests.factories import APPROVER, EDITOR, Setup, seed_setup, settings_for

PASSWORD = "correct horse battery staple"
ADMIN = "admin@ishr.example"
SECOND_APPROVER = "approver2@ishr.example"


@pytest.fixture
def setup(tmp_path: Path) -> Setup:
    db = Database(f"sqlite:///{tmp_path / 'web.db'}")
    db.migrate()
    made = seed_setup(db, settings_for(db.url, tmp_path))
    with db.session() as session:
        for email in (APPROVER, EDITOR):
            accounts.set_password(accounts.user_by_email(session, email), PASSWORD)
        accounts.add_user(session, ADMIN, name="Admin", role="admin", password=PASSWORD)
        accounts.add_user(
            session, SECOND_APPROVER, name="Second approver", role="approver", password=PASSWORD
        )
    return made


class Browser:
    """A TestClient session as one person: logs in, remembers the CSRF token of each page."""

    def __init__(self, setup: Setup) -> None:
        # https: the session cookie is Secure because public_url is https.
        self.client = TestClient(create_app(setup.settings), base_url="https://testserver")
        self.csrf = ""

    def login(self, email: str, password: str = PASSWORD) -> Any:
        form = self.client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token, form.text
        return self.client.post(
            "/login",
            data={"email": email, "password": password, "csrf_token": token.group(1)},
            follow_redirects=False,
        )

    def get(self, url: str, **kwargs: Any) -> Any:
        answer = self.client.get(url, **kwargs)
        found = re.search(r'name="csrf_token" value="([^"]+)"', answer.text)
        if found:
            self.csrf = found.group(1)
        return answer

    def post(self, url: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        """A form post with the page's CSRF token (pass csrf=False to leave it out)."""
        with_token = kwargs.pop("csrf", True)
        body = dict(data or {})
        if with_token:
            if not self.csrf:
                self.get("/")
            body["csrf_token"] = self.csrf
        return self.client.post(url, data=body, follow_redirects=False, **kwargs)


@pytest.fixture
def browser(setup: Setup) -> Browser:
    return Browser(setup)


def browser_for(setup: Setup, email: str) -> Browser:
    person = Browser(setup)
    answer = person.login(email)
    assert answer.status_code == 303, answer.text
    person.get("/")
    return person
