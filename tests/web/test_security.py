"""The dashboard's defences: sessions, CSRF, roles, the two-person rule, the login rate limit,
and an unsubscribe endpoint that needs no session and acts only on POST."""

from __future__ import annotations

from sqlalchemy import func, select

from distributor import accounts
from distributor.storage import tables as t
from distributor.unsubscribe import make_token
from tests.factories import APPROVER, EDITOR, Setup
from tests.web.conftest import ADMIN, PASSWORD, SECOND_APPROVER, Browser, browser_for


def _decisions(setup: Setup) -> int:
    with setup.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(t.Approval)) or 0)


def _bluesky_free_rendition(setup: Setup) -> int:
    with setup.db.session() as session:
        return int(
            session.scalar(
                select(t.Rendition.id)
                .join(t.Channel)
                .where(
                    t.Channel.name == "social-outbox", t.Rendition.article_id == setup.article_id
                )
            )
            or 0
        )


def test_pages_send_a_stranger_to_the_login_form(browser: Browser, setup: Setup) -> None:
    for url in ("/", f"/articles/{setup.article_id}", "/ops", "/subscribers", "/audit"):
        answer = browser.client.get(url, follow_redirects=False)
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/login?next=")


def test_the_session_cookie_is_httponly_samesite_lax_and_secure_behind_https(
    browser: Browser,
) -> None:
    answer = browser.login(APPROVER)
    assert answer.status_code == 303
    cookie = answer.headers["set-cookie"].lower()
    assert "distributor_session=" in cookie
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" in cookie


def test_a_form_post_without_the_csrf_token_is_refused_and_changes_nothing(setup: Setup) -> None:
    approver = browser_for(setup, APPROVER)
    answer = approver.post(f"/articles/{setup.article_id}/approve", csrf=False)
    assert answer.status_code == 403
    assert "reload the page" in answer.text
    wrong = approver.post(
        f"/articles/{setup.article_id}/approve", {"csrf_token": "forged"}, csrf=False
    )
    assert wrong.status_code == 403
    assert _decisions(setup) == 0


def test_a_script_with_the_session_cookie_needs_the_csrf_header(setup: Setup) -> None:
    approver = browser_for(setup, APPROVER)
    url = f"/api/articles/{setup.article_id}/approve"
    refused = approver.client.post(url, json={})
    assert refused.status_code == 403
    assert "did not come from this site" in refused.json()["detail"]
    assert _decisions(setup) == 0
    allowed = approver.client.post(url, json={}, headers={"X-CSRF-Token": approver.csrf})
    assert allowed.status_code == 200, allowed.text
    assert _decisions(setup) == 2


def test_an_editor_cannot_approve_through_the_form_or_the_api(setup: Setup) -> None:
    editor = browser_for(setup, EDITOR)
    form = editor.post(f"/articles/{setup.article_id}/approve")
    assert form.status_code == 403
    assert "needs one of: approver, admin" in form.text
    api = editor.client.post(
        f"/api/articles/{setup.article_id}/approve", json={}, headers={"X-CSRF-Token": editor.csrf}
    )
    assert api.status_code == 403
    assert _decisions(setup) == 0


def test_an_editor_cannot_pause_sending_or_manage_users(setup: Setup) -> None:
    editor = browser_for(setup, EDITOR)
    assert editor.post("/ops/pause", {"paused": "1"}).status_code == 403
    assert editor.get("/users").status_code == 403
    assert (
        editor.post(
            "/users",
            {"email": "x@ishr.example", "role": "admin", "password": "0123456789ab"},
        ).status_code
        == 403
    )
    with setup.db.session() as session:
        assert session.get(t.Flag, "paused") is None
        assert (
            session.scalars(select(t.User).where(t.User.email == "x@ishr.example")).first() is None
        )


def test_under_the_two_person_rule_nobody_approves_their_own_edit(setup: Setup) -> None:
    admin = browser_for(setup, ADMIN)
    assert admin.post("/settings/two-person-rule", {"on": "1"}).status_code == 303
    approver = browser_for(setup, APPROVER)
    rendition = _bluesky_free_rendition(setup)
    edited = approver.post(
        f"/articles/{setup.article_id}/renditions/{rendition}/edit",
        {"text": "Civil society met the UN Secretary-General, and said so."},
    )
    assert edited.status_code == 303
    own = approver.post(f"/articles/{setup.article_id}/approve", {"channel": "social-outbox"})
    assert own.status_code == 403
    assert "two-person rule" in own.text
    assert _decisions(setup) == 0
    colleague = browser_for(setup, SECOND_APPROVER)
    other = colleague.post(f"/articles/{setup.article_id}/approve", {"channel": "social-outbox"})
    assert other.status_code == 303
    assert _decisions(setup) == 1


def test_without_the_two_person_rule_an_approver_may_approve_their_own_edit(setup: Setup) -> None:
    approver = browser_for(setup, APPROVER)
    rendition = _bluesky_free_rendition(setup)
    approver.post(
        f"/articles/{setup.article_id}/renditions/{rendition}/edit", {"text": "A shorter post."}
    )
    assert approver.post(f"/articles/{setup.article_id}/approve").status_code == 303


def test_logins_are_rate_limited_per_address_and_every_try_is_audited(browser: Browser) -> None:
    for _ in range(5):
        assert browser.login(APPROVER, "wrong password").status_code == 401
    blocked = browser.login(APPROVER, PASSWORD)
    assert blocked.status_code == 429
    assert "too many failed logins" in blocked.text.lower()
    other = Browser.__new__(Browser)
    other.client, other.csrf = browser.client, ""
    assert other.login(EDITOR).status_code == 303  # another address is not locked out


def test_every_login_and_failure_is_in_the_audit_log(setup: Setup, browser: Browser) -> None:
    browser.login(APPROVER, "wrong password")
    browser.login(APPROVER)
    with setup.db.session() as session:
        actions = list(
            session.scalars(
                select(t.AuditEvent.action)
                .where(t.AuditEvent.action.in_(["login", "login_failed"]))
                .order_by(t.AuditEvent.id)
            )
        )
    assert actions == ["login_failed", "login"]


def test_a_wrong_password_and_an_unknown_address_get_the_same_answer(browser: Browser) -> None:
    wrong = browser.login(APPROVER, "nope nope nope")
    unknown = browser.login("nobody@ishr.example", "nope nope nope")
    assert wrong.status_code == unknown.status_code == 401
    assert "wrong email address or password" in wrong.text.lower()
    assert "wrong email address or password" in unknown.text.lower()


def test_the_login_form_needs_its_own_csrf_token(browser: Browser) -> None:
    answer = browser.client.post(
        "/login", data={"email": APPROVER, "password": PASSWORD}, follow_redirects=False
    )
    assert answer.status_code == 403


def test_login_only_follows_a_next_path_on_this_site(browser: Browser) -> None:
    import re

    form = browser.client.get("/login?next=https://evil.example/")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token and 'value="/"' in form.text
    answer = browser.client.post(
        "/login",
        data={
            "email": APPROVER,
            "password": PASSWORD,
            "csrf_token": token.group(1),
            "next": "//evil.example/",
        },
        follow_redirects=False,
    )
    assert answer.headers["location"] == "/"


def test_logging_out_ends_the_session_on_the_server(setup: Setup) -> None:
    approver = browser_for(setup, APPROVER)
    cookie = approver.client.cookies.get("distributor_session")
    assert approver.post("/logout").status_code == 303
    again = Browser(setup)
    again.client.cookies.set("distributor_session", cookie or "", domain="testserver.local")
    answer = again.client.get(
        "/", follow_redirects=False, cookies={"distributor_session": cookie or ""}
    )
    assert answer.status_code == 303


def test_a_password_reset_ends_the_users_sessions(setup: Setup) -> None:
    editor = browser_for(setup, EDITOR)
    admin = browser_for(setup, ADMIN)
    with setup.db.session() as session:
        editor_id = accounts.user_by_email(session, EDITOR).id
    assert (
        admin.post(f"/users/{editor_id}/password", {"password": "a new long password"}).status_code
        == 303
    )
    assert editor.client.get("/", follow_redirects=False).status_code == 303


def _membership(setup: Setup) -> tuple[str, str]:
    with setup.db.session() as session:
        member = session.scalars(select(t.Membership).order_by(t.Membership.id)).first()
        assert member is not None
        token = make_token(
            setup.settings.secret_key.get_secret_value(), member.subscriber_id, member.list_id
        )
        return token, member.status


def _status(setup: Setup) -> str:
    with setup.db.session() as session:
        member = session.scalars(select(t.Membership).order_by(t.Membership.id)).first()
        assert member is not None
        return member.status


def test_unsubscribe_needs_no_session_and_only_a_post_acts(browser: Browser, setup: Setup) -> None:
    token, _ = _membership(setup)
    shown = browser.client.get(f"/u/{token}")
    assert shown.status_code == 200 and "Unsubscribe?" in shown.text
    assert _status(setup) == "subscribed"  # a link scanner's GET changes nothing
    done = browser.client.post(f"/u/{token}", data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200 and "You are unsubscribed" in done.text
    assert _status(setup) == "unsubscribed"
    assert browser.client.post(f"/u/{token}").status_code == 200  # idempotent
    forged = browser.client.post(f"/u/{token[:-2]}xx")
    assert forged.status_code == 400
