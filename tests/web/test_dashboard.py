"""What a comms officer does in the dashboard, page by page, through the forms (no JavaScript)
and their JSON twins."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from sqlalchemy import select

from distributor import accounts
from distributor.domain import DeliveryState
from distributor.storage import Database
from distributor.storage import tables as t
from tests.factories import (
    APPROVER,
    EDITOR,
    Setup,
    approve_all,
    schedule_now,
    seed_setup,
    settings_for,
    smtp_options,
)
from tests.peers.smtp import SmtpPeer
from tests.web.conftest import ADMIN, PASSWORD, Browser, browser_for


def _rendition(setup: Setup, channel: str) -> int:
    with setup.db.session() as session:
        found = session.scalar(
            select(t.Rendition.id).join(t.Channel).where(t.Channel.name == channel)
        )
        assert found is not None
        return int(found)


def _states(setup: Setup) -> list[str]:
    with setup.db.session() as session:
        return list(session.scalars(select(t.Delivery.state).order_by(t.Delivery.id)))


def _audit(setup: Setup, action: str) -> list[t.AuditEvent]:
    with setup.db.session() as session:
        return list(session.scalars(select(t.AuditEvent).where(t.AuditEvent.action == action)))


# -- inbox ---------------------------------------------------------------------------------


def test_the_inbox_shows_each_channel_and_filters_by_status_and_channel(setup: Setup) -> None:
    officer = browser_for(setup, APPROVER)
    page = officer.get("/").text
    assert "Civil society stresses" in page and page.count("awaiting review") >= 2
    approve_all(setup, channels=["newsletter"])
    assert "Civil society" in officer.get("/?status=approved&channel=newsletter").text
    assert "No article matches" in officer.get("/?status=approved&channel=social-outbox").text
    schedule_now(setup, channels=["newsletter"])
    scheduled = officer.get("/?status=scheduled").text
    assert "Civil society" in scheduled and "scheduled" in scheduled and "CET" in scheduled
    bad = officer.get("/?status=bogus")
    assert bad.status_code == 422 and "unknown status" in bad.text


def test_the_inbox_api_lists_statuses_per_channel(setup: Setup) -> None:
    officer = browser_for(setup, APPROVER)
    body = officer.client.get("/api/inbox").json()
    assert body["total"] == 1
    assert [c["status"] for c in body["articles"][0]["channels"]] == ["awaiting", "awaiting"]


# -- review --------------------------------------------------------------------------------


def test_the_review_page_shows_the_email_in_sandboxed_frames_and_the_posts_with_counters(
    setup: Setup,
) -> None:
    officer = browser_for(setup, APPROVER)
    page = officer.get(f"/articles/{setup.article_id}").text
    assert page.count("<iframe") == 2 and page.count(" sandbox ") == 2
    assert "Desktop (600 px)" in page and "Mobile (375 px)" in page
    assert 'name="subject"' in page and 'name="preheader"' in page and "Plain-text part" in page
    assert re.search(r'<span class="count">\d+</span> / 500', page)
    email = officer.client.get(
        f"/articles/{setup.article_id}/renditions/{_rendition(setup, 'newsletter')}/email"
    )
    assert email.headers["content-security-policy"].startswith("sandbox")
    assert "Download as PDF" in email.text
    stranger = Browser(setup).client.get(
        f"/articles/{setup.article_id}/renditions/1/email", follow_redirects=False
    )
    assert stranger.status_code == 303


def test_an_edit_shows_the_new_count_and_voids_the_approval(setup: Setup) -> None:
    approve_all(setup)
    editor = browser_for(setup, EDITOR)
    rendition = _rendition(setup, "social-outbox")
    text = "A short post about the meeting."
    answer = editor.post(
        f"/articles/{setup.article_id}/renditions/{rendition}/edit", {"text": text}
    )
    assert answer.status_code == 303 and "approve+it+again" in answer.headers["location"]
    page = editor.get(f"/articles/{setup.article_id}").text
    assert f'<span class="count">{len(text)}</span> / 500' in page
    assert "awaiting review" in page and "Last edited by Editor" in page
    with setup.db.session() as session:
        voided = session.scalars(
            select(t.Approval).where(t.Approval.rendition_id == rendition)
        ).all()
    assert voided and all(a.voided_at is not None for a in voided)
    assert _audit(setup, "edit")


def test_a_post_over_the_limit_is_refused_with_the_count(setup: Setup) -> None:
    editor = browser_for(setup, EDITOR)
    rendition = _rendition(setup, "social-outbox")
    answer = editor.post(
        f"/articles/{setup.article_id}/renditions/{rendition}/edit", {"text": "x" * 501}
    )
    assert answer.status_code == 422 and "501/500" in answer.text


def test_the_subject_and_preheader_can_be_edited_through_the_api(setup: Setup) -> None:
    editor = browser_for(setup, EDITOR)
    rendition = _rendition(setup, "newsletter")
    answer = editor.client.post(
        f"/api/articles/{setup.article_id}/renditions/{rendition}",
        json={"subject": "A new subject\r\nBcc: x@evil.example", "preheader": "Read on"},
        headers={"X-CSRF-Token": editor.csrf},
    )
    assert answer.status_code == 200, answer.text
    review = editor.client.get(f"/api/articles/{setup.article_id}/review").json()
    email = next(r for r in review["renditions"] if r["kind"] == "email")
    assert "\n" not in email["payload"]["subject"] and email["payload"]["preheader"] == "Read on"


def test_approving_one_channel_leaves_the_other_awaiting(setup: Setup) -> None:
    officer = browser_for(setup, APPROVER)
    officer.post(f"/articles/{setup.article_id}/approve", {"channel": "newsletter"})
    body = officer.client.get("/api/inbox").json()
    assert [c["status"] for c in body["articles"][0]["channels"]] == ["approved", "awaiting"]


def test_a_rejection_needs_a_comment_and_joins_the_thread(setup: Setup) -> None:
    officer = browser_for(setup, APPROVER)
    assert officer.post(f"/articles/{setup.article_id}/reject", {"comment": " "}).status_code == 422
    officer.post(f"/articles/{setup.article_id}/reject", {"comment": "Wrong photo credit."})
    thread = officer.client.get(f"/api/articles/{setup.article_id}/comments").json()
    assert thread[-1]["author"] == "Approver"
    assert thread[-1]["body"] == "Rejected (all channels): Wrong photo credit."
    assert "Wrong photo credit." in officer.get(f"/articles/{setup.article_id}").text


def test_comments_form_a_thread_with_authors_and_times(setup: Setup) -> None:
    editor = browser_for(setup, EDITOR)
    editor.post(f"/articles/{setup.article_id}/comments", {"body": "Is the title final?"})
    approver = browser_for(setup, APPROVER)
    approver.client.post(
        f"/api/articles/{setup.article_id}/comments",
        json={"body": "Yes."},
        headers={"X-CSRF-Token": approver.csrf},
    )
    page = approver.get(f"/articles/{setup.article_id}").text
    assert page.index("Is the title final?") < page.index("Yes.")
    assert "<strong>Editor</strong>" in page and "<strong>Approver</strong>" in page


def test_scheduling_at_a_local_time_stores_utc(setup: Setup) -> None:
    approve_all(setup)
    officer = browser_for(setup, APPROVER)
    answer = officer.post(
        f"/articles/{setup.article_id}/schedule", {"when": "at", "at": "2030-07-01T09:30"}
    )
    assert answer.status_code == 303
    with setup.db.session() as session:
        times = set(session.scalars(select(t.Delivery.not_before)))
    assert {x.isoformat() for x in times} == {"2030-07-01T07:30:00+00:00"}  # CEST is UTC+2


def test_scheduling_in_the_next_slot_without_slots_says_why(setup: Setup) -> None:
    approve_all(setup)
    officer = browser_for(setup, APPROVER)
    answer = officer.post(f"/articles/{setup.article_id}/schedule", {"when": "slot"})
    assert answer.status_code == 422 and "no daily slots" in answer.text


def test_the_live_counter_measures_by_the_platform_rule(setup: Setup) -> None:
    officer = browser_for(setup, EDITOR)
    url = "https://example.org/" + "a" * 100
    answer = officer.client.post(
        "/api/measure",
        json={"platform": "mastodon", "text": f"Hi {url}"},
        headers={"X-CSRF-Token": officer.csrf},
    )
    assert answer.json()["length"] == 3 + 23
    bluesky = officer.client.post(
        "/api/measure",
        json={"platform": "bluesky", "text": "👩‍👩‍👧‍👦"},
        headers={"X-CSRF-Token": officer.csrf},
    )
    assert bluesky.json()["length"] == 1
    unknown = officer.client.post(
        "/api/measure",
        json={"platform": "myspace", "text": "x"},
        headers={"X-CSRF-Token": officer.csrf},
    )
    assert unknown.status_code == 422 and "unknown platform" in unknown.json()["detail"]


@pytest.fixture
def smtp_setup(tmp_path: Path, smtp_server: SmtpPeer) -> Setup:
    db = Database(f"sqlite:///{tmp_path / 'mail.db'}")
    db.migrate()
    made = seed_setup(
        db, settings_for(db.url, tmp_path), email=smtp_options(smtp_server.host, smtp_server.port)
    )
    with db.session() as session:
        accounts.set_password(accounts.user_by_email(session, EDITOR), PASSWORD)
    return made


def test_a_test_email_goes_to_the_reviewer_over_the_channels_smtp_and_is_audited(
    smtp_setup: Setup, smtp_server: SmtpPeer
) -> None:
    editor = browser_for(smtp_setup, EDITOR)
    rendition = _rendition(smtp_setup, "newsletter")
    answer = editor.post(f"/articles/{smtp_setup.article_id}/renditions/{rendition}/test-email")
    assert answer.status_code == 303 and "Test+email+sent" in answer.headers["location"]
    [message] = smtp_server.messages
    assert message.rcpt_tos == (EDITOR,)
    assert b"Subject: [Test] " in message.raw
    [event] = _audit(smtp_setup, "test_email")
    assert event.detail["to"] == EDITOR and len(event.detail["content_hash"]) == 64
    assert _states(smtp_setup) == []  # not a delivery: nothing in the ledger


# -- operations ----------------------------------------------------------------------------


def test_cancel_retry_and_pause_from_the_deliveries_page(setup: Setup) -> None:
    approve_all(setup)
    schedule_now(setup, channels=["social-outbox"])
    officer = browser_for(setup, APPROVER)
    [delivery_id] = [d for d in _delivery_ids(setup)]
    assert "social-outbox · post" in officer.get("/ops").text
    assert officer.post(f"/ops/deliveries/{delivery_id}/cancel").status_code == 303
    assert _states(setup) == ["cancelled"]
    assert officer.post(f"/ops/deliveries/{delivery_id}/cancel").status_code == 422
    assert officer.post(f"/ops/deliveries/{delivery_id}/retry").status_code == 303
    assert _states(setup) == ["pending"]
    assert officer.post("/ops/pause", {"paused": "1"}).status_code == 303
    assert "Sending is paused" in officer.get("/ops").text
    assert officer.client.get("/api/pause").json() == {"paused": True}
    from tests.factories import send_due

    assert send_due(setup) == {}  # the dispatcher honours the switch
    officer.client.post(
        "/api/pause", json={"paused": False}, headers={"X-CSRF-Token": officer.csrf}
    )
    assert send_due(setup) == {"sent": 1}
    assert {e.action for e in _audit(setup, "cancel") + _audit(setup, "retry")} == {
        "cancel",
        "retry",
    }


def _delivery_ids(setup: Setup) -> list[int]:
    with setup.db.session() as session:
        return list(session.scalars(select(t.Delivery.id).order_by(t.Delivery.id)))


def test_an_unknown_outcome_is_resolved_by_a_person(setup: Setup) -> None:
    approve_all(setup)
    schedule_now(setup, channels=["social-outbox"])
    [delivery_id] = _delivery_ids(setup)
    with setup.db.session() as session:
        row = session.get(t.Delivery, delivery_id)
        assert row is not None
        row.state = DeliveryState.UNKNOWN.value
    officer = browser_for(setup, APPROVER)
    assert "/ops?state=unknown&amp;article=1&amp;channel=social-outbox" in officer.get("/").text
    assert "It did not go out: send again" in officer.get("/ops?state=unknown").text
    bad = officer.post(
        f"/ops/deliveries/{delivery_id}/resolve", {"sent": "yes", "url": "javascript:alert(1)"}
    )
    assert bad.status_code == 422
    ok = officer.post(
        f"/ops/deliveries/{delivery_id}/resolve",
        {"sent": "yes", "url": "https://social.example/@ishr/1"},
    )
    assert ok.status_code == 303
    assert _states(setup) == ["sent"]
    assert "live post" in officer.get("/").text


def test_an_editor_cannot_cancel_a_send(setup: Setup) -> None:
    approve_all(setup)
    schedule_now(setup, channels=["social-outbox"])
    editor = browser_for(setup, EDITOR)
    assert editor.post(f"/ops/deliveries/{_delivery_ids(setup)[0]}/cancel").status_code == 403
    assert _states(setup) == ["pending"]


# -- channels, subscribers, audit, users ---------------------------------------------------


def test_channels_are_listed_and_a_connection_can_be_tested(setup: Setup) -> None:
    officer = browser_for(setup, APPROVER)
    page = officer.get("/channels").text
    assert "newsletter" in page and "social-outbox" in page and "Test connection" in page
    answer = officer.post("/channels/1/check")
    assert answer.status_code == 303 and "Connection+works" in answer.headers["location"]
    checked = officer.client.post("/api/channels/2/check", headers={"X-CSRF-Token": officer.csrf})
    assert checked.json()["ok"] is True
    assert len(_audit(setup, "channel_check")) == 2


def test_a_token_expiring_soon_is_flagged_on_the_channels_page(setup: Setup) -> None:
    from datetime import timedelta

    from distributor.storage.tables import utcnow

    with setup.db.session() as session:
        row = session.scalars(select(t.Channel).where(t.Channel.name == "social-outbox")).one()
        row.token_expires_at = utcnow() + timedelta(days=3, hours=1)
    officer = browser_for(setup, APPROVER)
    assert "the token expires in 3 days: reconnect soon" in officer.get("/channels").text
    listed = officer.client.get("/api/channels").json()
    assert [c["expiry_warning"] is not None for c in listed] == [False, True]


def test_subscribers_can_be_searched_added_unsubscribed_imported_and_exported(
    setup: Setup,
) -> None:
    officer = browser_for(setup, APPROVER)
    page = officer.get("/subscribers").text
    assert re.search(r"news</a></td><td>3</td><td>0</td>", page)
    officer.post("/subscribers/add", {"list_id": "1", "email": "Ana@Example.ORG", "name": "Ana"})
    found = officer.get("/subscribers?q=ana").text
    assert "Ana@example.org" in found and "news: subscribed" in found
    assert (
        officer.post("/subscribers/add", {"list_id": "1", "email": "not an address"}).status_code
        == 422
    )
    with setup.db.session() as session:
        ana = session.scalar(select(t.Subscriber.id).where(t.Subscriber.email == "Ana@example.org"))
    officer.post(f"/subscribers/{ana}/unsubscribe", {"list_id": "1"})
    assert "news: unsubscribed" in officer.get("/subscribers?q=ana").text
    report = officer.post(
        "/subscribers/import",
        {"list_id": "1"},
        files={"file": ("list.csv", b"email,name\nbo@example.org,Bo\nbroken,X\n=cmd@x,Y\n")},
    )
    assert report.status_code == 200
    assert "1 added" in report.text and "2 rejected" in report.text and "broken" in report.text
    export = officer.client.get("/subscribers/export?list_id=1")
    assert export.headers["content-type"].startswith("text/csv")
    lines = export.text.splitlines()
    assert lines[0] == "email,name,status,changed_at" and len(lines) == 1 + 5
    assert any(line.startswith("Ana@example.org,Ana,unsubscribed") for line in lines)


def test_an_editor_may_not_export_or_import_subscribers(setup: Setup) -> None:
    editor = browser_for(setup, EDITOR)
    assert editor.client.get("/subscribers/export?list_id=1").status_code == 403
    assert editor.client.get("/api/lists/1/export").status_code == 403


def test_the_api_imports_csv_and_reports_rejected_rows(setup: Setup) -> None:
    officer = browser_for(setup, APPROVER)
    answer = officer.client.post(
        "/api/lists/1/import",
        content=b"a@example.org\nnope\n",
        headers={"X-CSRF-Token": officer.csrf, "Content-Type": "text/csv"},
    )
    assert answer.json()["added"] == 1
    assert answer.json()["rejected"][0]["line"] == 2


def test_the_audit_log_filters_by_article_and_user(setup: Setup) -> None:
    approve_all(setup)
    officer = browser_for(setup, APPROVER)
    by_article = officer.client.get(f"/api/audit?article={setup.article_id}").json()
    approvals = [e for e in by_article["events"] if e["action"] == "approve"]
    assert len(approvals) == 2 and {e["article_id"] for e in by_article["events"]} == {1}
    assert all(len(e["detail"]["content_hash"]) == 64 for e in approvals)
    by_user = officer.client.get(f"/api/audit?user={APPROVER}").json()
    assert {e["action"] for e in by_user["events"]} >= {"approve", "login"}
    page = officer.get(f"/audit?article={setup.article_id}").text
    assert "approve" in page and "content_hash" in page


def test_an_admin_adds_users_and_resets_passwords(setup: Setup) -> None:
    admin = browser_for(setup, ADMIN)
    added = admin.post(
        "/users",
        {
            "email": "new@ishr.example",
            "name": "New",
            "role": "editor",
            "password": "long enough pw",
        },
    )
    assert added.status_code == 303
    newcomer = Browser(setup)
    assert newcomer.login("new@ishr.example", "long enough pw").status_code == 303
    with setup.db.session() as session:
        new_id = accounts.user_by_email(session, "new@ishr.example").id
    assert admin.post(f"/users/{new_id}/password", {"password": "short"}).status_code == 422
    assert (
        admin.post(f"/users/{new_id}/password", {"password": "another long one"}).status_code == 303
    )
    assert Browser(setup).login("new@ishr.example", "another long one").status_code == 303
    assert len(_audit(setup, "password_reset")) == 1


# -- accessibility -------------------------------------------------------------------------


class _Controls(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.labelled: set[str] = set()
        self.controls: list[dict[str, str | None]] = []
        self.buttons_without_text = 0
        self._button_text: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "label" and found.get("for"):
            self.labelled.add(found["for"] or "")
        if tag in ("input", "select", "textarea") and found.get("type") != "hidden":
            self.controls.append(found)
        if tag == "button":
            self._button_text = []

    def handle_data(self, data: str) -> None:
        if self._button_text is not None:
            self._button_text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "button" and self._button_text is not None:
            if not "".join(self._button_text).strip():
                self.buttons_without_text += 1
            self._button_text = None


def test_every_control_on_every_page_has_a_label(setup: Setup) -> None:
    admin = browser_for(setup, ADMIN)
    for url in (
        "/",
        f"/articles/{setup.article_id}",
        "/ops",
        "/channels",
        "/subscribers",
        "/audit",
        "/users",
    ):
        parser = _Controls()
        parser.feed(admin.get(url).text)
        for control in parser.controls:
            if control.get("type") == "radio":
                continue  # radios sit inside their label
            assert control.get("id") in parser.labelled or control.get("aria-label"), (url, control)
        assert parser.buttons_without_text == 0, url
    login = _Controls()
    login.feed(Browser(setup).client.get("/login").text)
    assert all(c.get("id") in login.labelled for c in login.controls)


@pytest.fixture
def unreachable_smtp_setup(tmp_path: Path) -> Setup:
    from tests.peers.local import free_port

    db = Database(f"sqlite:///{tmp_path / 'down.db'}")
    db.migrate()
    made = seed_setup(
        db, settings_for(db.url, tmp_path), email=smtp_options("127.0.0.1", free_port())
    )
    with db.session() as session:
        accounts.set_password(accounts.user_by_email(session, EDITOR), PASSWORD)
    return made


def test_an_unreachable_mail_server_is_reported_and_audited(
    unreachable_smtp_setup: Setup,
) -> None:
    setup = unreachable_smtp_setup
    editor = browser_for(setup, EDITOR)
    rendition = _rendition(setup, "newsletter")
    answer = editor.post(f"/articles/{setup.article_id}/renditions/{rendition}/test-email")
    assert "The+test+email+failed" in answer.headers["location"]
    [failed] = _audit(setup, "test_email_failed")
    assert failed.detail["to"] == EDITOR
    api = editor.client.post(
        f"/api/articles/{setup.article_id}/renditions/{rendition}/test-email",
        headers={"X-CSRF-Token": editor.csrf},
    )
    assert api.status_code == 502 and api.json()["sent"] is False
    check = editor.client.post("/api/channels/1/check", headers={"X-CSRF-Token": editor.csrf})
    assert check.json()["ok"] is False and check.json()["detail"]
    [checked] = _audit(setup, "channel_check")
    assert checked.detail["ok"] is False


def _give_a_thread(setup: Setup, rendition_id: int, replies: list[str]) -> None:
    with setup.db.session() as session:
        row = session.get(t.Rendition, rendition_id)
        assert row is not None and row.payload is not None
        row.payload = {**row.payload, "thread": replies}


def test_a_threads_replies_are_edited_in_place_and_an_emptied_one_is_dropped(
    setup: Setup,
) -> None:
    rendition = _rendition(setup, "social-outbox")
    _give_a_thread(setup, rendition, ["More on the meeting 2/3", "The end 3/3"])
    editor = browser_for(setup, EDITOR)
    page = editor.get(f"/articles/{setup.article_id}").text
    assert "Reply 2 of 3" in page and "The end 3/3" in page
    answer = editor.post(
        f"/articles/{setup.article_id}/renditions/{rendition}/edit",
        {"text": "The meeting 1/2", "thread": ["What was said 2/2", ""]},
    )
    assert answer.status_code == 303
    with setup.db.session() as session:
        payload = session.get(t.Rendition, rendition).payload  # type: ignore[union-attr]
    assert payload is not None
    assert (payload["text"], payload["thread"]) == ("The meeting 1/2", ["What was said 2/2"])


def test_a_reply_over_the_limit_is_refused_through_the_api_naming_the_reply(
    setup: Setup,
) -> None:
    rendition = _rendition(setup, "social-outbox")
    _give_a_thread(setup, rendition, ["More 2/2"])
    editor = browser_for(setup, EDITOR)
    answer = editor.client.post(
        f"/api/articles/{setup.article_id}/renditions/{rendition}",
        json={"thread": ["x" * 501]},
        headers={"X-CSRF-Token": editor.csrf},
    )
    assert answer.status_code == 422 and "reply 2" in answer.text, answer.text
    with setup.db.session() as session:
        payload = session.get(t.Rendition, rendition).payload  # type: ignore[union-attr]
    assert payload is not None and payload["thread"] == ["More 2/2"], "nothing half-saved"
