"""The JSON API and the review pages, over HTTP with FastAPI's test client."""

from __future__ import annotations

from fastapi.testclient import TestClient

from distributor import accounts
from distributor.web.app import create_app
from tests.factories import Setup


def _token(setup: Setup, email: str, role: str) -> dict[str, str]:
    with setup.db.session() as session:
        _, token = accounts.add_user(session, email, name=email, role=role, password=None)
    return {"Authorization": f"Bearer {token}"}


def test_the_api_needs_a_valid_token(setup: Setup) -> None:
    client = TestClient(create_app(setup.settings))
    assert client.get("/api/articles").status_code == 401
    answer = client.get("/api/articles", headers={"Authorization": "Bearer nope"})
    assert answer.status_code == 401
    assert "not valid" in answer.json()["detail"]


def test_an_editor_cannot_approve_and_an_approver_can(setup: Setup) -> None:
    client = TestClient(create_app(setup.settings))
    editor = _token(setup, "ed@ishr.example", "editor")
    approver = _token(setup, "ap@ishr.example", "approver")
    denied = client.post(f"/api/articles/{setup.article_id}/approve", json={}, headers=editor)
    assert denied.status_code == 403
    assert "approver" in denied.json()["detail"]
    made = client.post(
        f"/api/articles/{setup.article_id}/approve",
        json={"channels": ["newsletter"]},
        headers=approver,
    )
    assert made.status_code == 200
    assert [d["channel"] for d in made.json()] == ["newsletter"]
    assert len(made.json()[0]["content_hash"]) == 64
    planned = client.post(
        f"/api/articles/{setup.article_id}/schedule",
        json={"when": "at", "at": "2030-01-15 09:00"},
        headers=approver,
    )
    assert planned.status_code == 200
    assert planned.json()[0]["not_before"] == "2030-01-15T08:00:00+00:00"
    deliveries = client.get(
        f"/api/deliveries?article_id={setup.article_id}", headers=approver
    ).json()
    assert len(deliveries) == 3 and {d["state"] for d in deliveries} == {"pending"}


def test_scheduling_an_unapproved_article_is_refused_with_a_reason(setup: Setup) -> None:
    client = TestClient(create_app(setup.settings))
    approver = _token(setup, "ap@ishr.example", "approver")
    answer = client.post(
        f"/api/articles/{setup.article_id}/schedule", json={"when": "now"}, headers=approver
    )
    assert answer.status_code == 422
    assert "approve first" in answer.json()["detail"]


def test_an_unknown_article_is_a_404_with_a_message(setup: Setup) -> None:
    client = TestClient(create_app(setup.settings))
    approver = _token(setup, "ap@ishr.example", "approver")
    answer = client.get("/api/articles/999", headers=approver)
    assert answer.status_code == 404
    assert "999" in answer.json()["detail"]


def test_the_openapi_document_is_published(setup: Setup) -> None:
    client = TestClient(create_app(setup.settings))
    spec = client.get("/api/openapi.json").json()
    assert "/api/articles/{article_id}/approve" in spec["paths"]


def test_a_malformed_request_is_answered_with_a_readable_message(setup: Setup) -> None:
    client = TestClient(create_app(setup.settings))
    approver = _token(setup, "ap@ishr.example", "approver")
    answer = client.post(
        f"/api/articles/{setup.article_id}/schedule", json={"when": "soon"}, headers=approver
    )
    assert answer.status_code == 422
    assert answer.json()["detail"].startswith("the request is not valid: when: Input should be")
    assert answer.json()["errors"][0]["loc"] == ["body", "when"]
    too_big = client.get("/api/articles/99999999999999999999", headers=approver)
    assert too_big.status_code == 422 and "article_id" in too_big.json()["detail"]
