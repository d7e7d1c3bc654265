"""End to end in a real browser: Debian's Chromium driven by Playwright against the dashboard
served by uvicorn; the approved post lands on the real Bluesky PDS and the newsletter at the
SMTP server. Screenshots go to tests/artifacts/ (or $DISTRIBUTOR_TEST_ARTIFACTS)."""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from distributor import accounts, articles
from distributor.domain import Image
from distributor.rendering.text import measure
from distributor.storage import Database
from distributor.storage import tables as t
from tests.factories import (
    APPROVER,
    Setup,
    seed_article,
    seed_setup,
    send_due,
    settings_for,
    smtp_options,
)
from tests.peers.bluesky import BlueskyPeer
from tests.peers.images import ImageServer
from tests.peers.local import free_port
from tests.peers.smtp import SmtpPeer
from tests.web.conftest import PASSWORD, SECOND_APPROVER
from tests.web.server import LiveServer

CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags Chromium keeps dialling Google on a closed network.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(
    os.environ.get("DISTRIBUTOR_TEST_ARTIFACTS", Path(__file__).resolve().parents[1] / "artifacts")
)
ALT = "UN Secretary-General Antonio Guterres with NGO representatives"


@pytest.fixture
def chromium() -> Iterator[Any]:
    if not CHROMIUM.exists() or shutil.which("chromium") is None:
        pytest.fail(
            "Debian's chromium is missing: scripts/test installs it (apt-get install chromium)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def live(
    tmp_path: Path, bluesky_pds: BlueskyPeer, smtp_server: SmtpPeer, image_server: ImageServer
) -> Iterator[tuple[Setup, LiveServer, str]]:
    port = free_port()
    db = Database(f"sqlite:///{tmp_path / 'browser.db'}")
    db.migrate()
    settings = settings_for(db.url, tmp_path).model_copy(
        update={"public_url": f"http://127.0.0.1:{port}"}
    )
    _did, handle, app_password = bluesky_pds.create_account(f"ishr{uuid.uuid4().hex[:8]}")
    article = dataclasses.replace(
        seed_article(settings),
        image=Image(url=image_server.url, credit="UN Photo / Manuel Elias", alt=ALT),
    )
    setup = seed_setup(
        db,
        settings,
        subscribers=2,
        email=smtp_options(smtp_server.host, smtp_server.port),
        social=[
            (
                "bluesky",
                "bluesky",
                {
                    "service_url": bluesky_pds.url,
                    "identifier": handle,
                    "app_password": app_password,
                },
            )
        ],
        article=article,
    )
    with db.session() as session:
        accounts.set_password(accounts.user_by_email(session, APPROVER), PASSWORD)
        accounts.add_user(
            session, SECOND_APPROVER, name="Second approver", role="approver", password=PASSWORD
        )
        second = dataclasses.replace(
            article,
            title="Council adopts resolution on reprisals against human rights defenders",
            url="https://ishr.ch/latest-updates/council-adopts-resolution-on-reprisals/",
            guid="second-article",
        )
        articles.ingest_articles(session, [second], source="test", settings=settings)
    server = LiveServer(settings, port).start()
    try:
        yield setup, server, handle
    finally:
        server.stop()


def _log_in(page: Any, base: str, email: str) -> None:
    page.goto(base + "/")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(base + "/")


def test_an_officer_edits_approves_and_the_post_and_email_land_and_a_colleague_rejects(
    chromium: Any,
    live: tuple[Setup, LiveServer, str],
    bluesky_pds: BlueskyPeer,
    smtp_server: SmtpPeer,
) -> None:
    setup, server, handle = live
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    base = server.url

    officer = chromium.new_page(viewport={"width": 1280, "height": 900})
    _log_in(officer, base, APPROVER)
    assert officer.get_by_role("heading", name="Inbox").is_visible()
    officer.screenshot(path=str(ARTIFACTS / "inbox.png"), full_page=True)

    officer.get_by_role("link", name=re.compile("Civil society")).click()
    box = officer.get_by_label("Post text for bluesky")
    counter = officer.locator(f"#{box.get_attribute('aria-describedby')}")
    before = counter.locator(".count").inner_text()
    link = re.search(r"https?://\S+", box.input_value())
    assert link, "the Bluesky post carries the article link"
    edited = (
        f"Edited by the comms team: civil society met the UN Secretary-General. {link.group(0)}"
    )
    box.fill(edited)
    expected = str(measure("bluesky", edited).length)
    officer.wait_for_function(
        "([id, n]) => document.querySelector('#' + id + ' .count').textContent === n",
        arg=[box.get_attribute("aria-describedby"), expected],
    )
    assert counter.locator(".count").inner_text() == expected != before

    officer.get_by_role("button", name="Save text").click()
    officer.wait_for_load_state()
    assert "approve it again" in officer.get_by_role("status").first.inner_text()
    officer.get_by_role("button", name="Approve all channels").click()
    officer.wait_for_load_state()
    officer.get_by_role("button", name="Schedule").click()
    officer.wait_for_load_state()
    assert "Scheduled" in officer.get_by_role("status").first.inner_text()
    # Sandboxed frames render in their own process: full-page shots leave them blank, so the
    # previews are photographed in the viewport.
    officer.locator("iframe").first.scroll_into_view_if_needed()
    officer.wait_for_timeout(300)
    officer.screenshot(path=str(ARTIFACTS / "review-email.png"))
    box.scroll_into_view_if_needed()
    officer.locator(".post.p-bluesky").scroll_into_view_if_needed()
    officer.screenshot(path=str(ARTIFACTS / "review-post.png"))

    assert send_due(setup).get("sent") == 3  # the post and two subscribers

    records = bluesky_pds.xrpc_get(
        "com.atproto.repo.listRecords", repo=handle, collection="app.bsky.feed.post"
    ).json()["records"]
    assert [r["value"]["text"] for r in records] == [edited]
    recipients = sorted(r for m in smtp_server.messages for r in m.rcpt_tos)
    assert recipients == ["reader00000@example.org", "reader00001@example.org"]

    officer.goto(base + "/")
    assert officer.get_by_role("link", name=re.compile("live post")).first.is_visible()
    officer.screenshot(path=str(ARTIFACTS / "inbox-after-send.png"), full_page=True)

    # The colleague is on a phone, with JavaScript off: rejecting needs neither.
    phone = chromium.new_context(viewport={"width": 375, "height": 800}, java_script_enabled=False)
    colleague = phone.new_page()
    _log_in(colleague, base, SECOND_APPROVER)
    colleague.keyboard.press("Tab")
    assert colleague.evaluate("document.activeElement.textContent") == "Skip to content"
    colleague.keyboard.press("Tab")
    focused = colleague.evaluate(
        "(el => [el.textContent, getComputedStyle(el).outlineStyle])(document.activeElement)"
    )
    assert focused == ["Inbox", "solid"]  # the navigation comes next, with a visible focus ring
    no_overflow = "document.documentElement.scrollWidth <= window.innerWidth"
    assert colleague.evaluate(no_overflow)
    colleague.get_by_role("link", name=re.compile("Council adopts")).click()
    colleague.get_by_label("Why reject? (shown in the comments)").fill(
        "The headline overstates the vote; please soften it."
    )
    colleague.get_by_role("button", name="Reject all channels").click()
    colleague.wait_for_load_state()
    thread = colleague.locator("#comments").inner_text()
    assert "The headline overstates the vote" in thread and "Second approver" in thread
    colleague.screenshot(path=str(ARTIFACTS / "review-mobile-rejected.png"), full_page=True)
    assert colleague.evaluate(no_overflow)  # usable at 375 px: nothing wider than the screen

    with setup.db.session() as session:
        decisions = session.execute(
            select(t.Approval.decision, t.Approval.comment)
            .join(t.Rendition, t.Rendition.id == t.Approval.rendition_id)
            .join(t.Article, t.Article.id == t.Rendition.article_id)
            .where(t.Article.guid == "second-article")
        ).all()
    assert {d for d, _ in decisions} == {"reject"} and len(decisions) == 2
