"""The Mastodon adapter against a real mastodon-mock server over HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr

from distributor.channels.base import AuthExpired, ChannelError, MemoryState, Outgoing
from distributor.channels.mastodon import Mastodon, seconds_until_reset
from distributor.domain import Image, PostRendition
from distributor.http import make_session
from tests.channels.posting import make_due, post_setup, the_rate_limit_resets, the_row
from tests.factories import send_due
from tests.peers.mastodon import (  # noqa: F401
    MastodonPeer,
    free_port,
    mastodon_server,
    mastodon_session_server,
)

pytestmark = pytest.mark.peers

LINK = "https://ishr.ch/latest-updates/civil-society-meets-secretary-general/"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


def _channel(url: str, token: str, *, timeout: float = 5.0) -> Mastodon:
    config = Mastodon.Config(base_url=url, access_token=SecretStr(token), language="en")
    return Mastodon(config, make_session(timeout=timeout, allow_private=True), MemoryState())


def _message(
    text: str = f"Civil society meets the Secretary-General {LINK}",
    *,
    link: str | None = LINK,
    image: bool = False,
) -> Outgoing:
    post = PostRendition(
        platform="mastodon",
        text=text,
        length=len(text),
        limit=500,
        link=link,
        image=Image(alt="Delegates around a table") if image else None,
    )
    return Outgoing(
        post=post,
        created_at=datetime.now(UTC),
        image_bytes=PNG if image else None,
        image_mime="image/png" if image else None,
    )


@pytest.fixture
def mastodon(mastodon_server: MastodonPeer) -> Mastodon:  # noqa: F811
    return _channel(mastodon_server.url, mastodon_server.token)


def test_a_post_with_an_image_lands_once_with_its_alt_text(
    mastodon: Mastodon,
    mastodon_server: MastodonPeer,  # noqa: F811
) -> None:
    receipt = mastodon.publish(_message(image=True), idempotency_key="delivery-1")

    [status] = mastodon_server.statuses()
    assert status["id"] == receipt.remote_id
    assert receipt.url == status["url"]
    assert LINK in status["content"]
    assert status["language"] == "en"
    assert status["visibility"] == "public"
    [media] = status["media_attachments"]
    assert media["description"] == "Delegates around a table"


def test_publishing_twice_with_the_same_key_makes_one_status(
    mastodon: Mastodon,
    mastodon_server: MastodonPeer,  # noqa: F811
) -> None:
    message = _message()

    first = mastodon.publish(message, idempotency_key="delivery-2")
    second = mastodon.publish(message, idempotency_key="delivery-2")

    assert first == second
    assert [s["id"] for s in mastodon_server.statuses()] == [first.remote_id]


def test_media_still_processing_is_polled_until_ready(
    mastodon: Mastodon,
    mastodon_server: MastodonPeer,  # noqa: F811
) -> None:
    # mastodon-mock processes uploads at once, so stage what a real server does for a
    # large image: a 202 with url null, then 206 while processing.
    staged = mastodon_server.upload(PNG, description="Delegates around a table")
    mastodon_server.inject_fault(
        "/api/v2/media", {"type": "status", "status": 202, "body": {**staged, "url": None}}
    )
    mastodon_server.inject_fault(
        f"/api/v1/media/{staged['id']}",
        {"type": "status", "status": 206, "body": {**staged, "url": None}},
        methods=("GET",),
        count=2,
    )

    mastodon.publish(_message(image=True), idempotency_key="delivery-3")

    [status] = mastodon_server.statuses()
    assert [m["id"] for m in status["media_attachments"]] == [staged["id"]]


def test_a_rate_limit_says_when_to_retry_and_the_retry_lands(
    mastodon: Mastodon,
    mastodon_server: MastodonPeer,  # noqa: F811
) -> None:
    mastodon_server.inject_fault("/api/v1/statuses", {"type": "ratelimit"})
    message = _message()

    with pytest.raises(ChannelError) as caught:
        mastodon.publish(message, idempotency_key="delivery-4")

    # mastodon-mock resets its window 300 s after the refusal.
    assert not caught.value.permanent
    assert not caught.value.ambiguous
    assert caught.value.retry_after is not None
    assert 290 <= caught.value.retry_after <= 300
    assert caught.value.rate_limited, "a 429 is the server saying wait, not a failure"
    assert mastodon_server.statuses() == []
    receipt = mastodon.publish(message, idempotency_key="delivery-4")
    assert [s["id"] for s in mastodon_server.statuses()] == [receipt.remote_id]


def test_a_wrong_token_means_the_account_needs_reconnecting(
    mastodon_server: MastodonPeer,  # noqa: F811
) -> None:
    mastodon = _channel(mastodon_server.url, "not-the-token")

    with pytest.raises(AuthExpired) as caught:
        mastodon.publish(_message(), idempotency_key="delivery-5")

    assert caught.value.permanent


@pytest.mark.parametrize(
    ("text", "reason"), [("", "can't be blank"), ("x" * 501, "maximum is 500 characters")]
)
def test_a_status_the_server_rejects_is_a_permanent_failure(
    mastodon: Mastodon, text: str, reason: str
) -> None:
    with pytest.raises(ChannelError) as caught:
        mastodon.publish(_message(text, link=None), idempotency_key="delivery-6")

    assert caught.value.permanent
    assert reason in caught.value.message


def test_a_server_error_after_sending_is_ambiguous(
    mastodon: Mastodon,
    mastodon_server: MastodonPeer,  # noqa: F811
) -> None:
    mastodon_server.inject_fault("/api/v1/statuses", {"type": "status", "status": 500})

    with pytest.raises(ChannelError) as caught:
        mastodon.publish(_message(), idempotency_key="delivery-7")

    assert caught.value.ambiguous
    assert not caught.value.permanent


def test_a_timeout_after_sending_is_ambiguous_and_a_retry_with_the_key_posts_once(
    mastodon_server: MastodonPeer,  # noqa: F811
) -> None:
    mastodon = _channel(mastodon_server.url, mastodon_server.token, timeout=0.5)
    mastodon_server.inject_fault("/api/v1/statuses", {"type": "latency", "delay_ms": 1500})
    message = _message()

    with pytest.raises(ChannelError) as caught:
        mastodon.publish(message, idempotency_key="delivery-8")

    assert caught.value.ambiguous
    receipt = mastodon.publish(message, idempotency_key="delivery-8")
    assert mastodon.lookup(message, idempotency_key="delivery-8") == receipt
    assert [s["id"] for s in mastodon_server.statuses()] == [receipt.remote_id]


def test_a_refused_connection_is_retryable_and_not_ambiguous() -> None:
    mastodon = _channel(f"http://127.0.0.1:{free_port()}", "token")

    with pytest.raises(ChannelError) as caught:
        mastodon.publish(_message(), idempotency_key="delivery-9")

    assert not caught.value.permanent
    assert not caught.value.ambiguous


def test_lookup_finds_the_landed_post_by_its_link(mastodon: Mastodon) -> None:
    message = _message()
    receipt = mastodon.publish(message, idempotency_key="delivery-10")
    mastodon.publish(_message("Another story https://ishr.ch/other/"), idempotency_key="other")

    assert mastodon.lookup(message, idempotency_key="delivery-10") == receipt


def test_lookup_returns_none_for_a_link_never_posted(mastodon: Mastodon) -> None:
    mastodon.publish(_message(), idempotency_key="delivery-11")
    never = _message("Not posted https://ishr.ch/never/", link="https://ishr.ch/never/")

    assert mastodon.lookup(never, idempotency_key="delivery-12") is None


def test_lookup_without_a_link_matches_the_whole_text(mastodon: Mastodon) -> None:
    message = _message("A statement on #HumanRights\nfor @publisher & friends", link=None)
    receipt = mastodon.publish(message, idempotency_key="delivery-16")
    other = _message("A statement on #HumanRights", link=None)

    assert mastodon.lookup(message, idempotency_key="delivery-16") == receipt
    assert mastodon.lookup(other, idempotency_key="delivery-17") is None


def test_lookup_ignores_posts_older_than_the_delivery(mastodon: Mastodon) -> None:
    mastodon.publish(_message(), idempotency_key="delivery-13")
    later = _message()
    later = Outgoing(post=later.post, created_at=later.created_at + timedelta(hours=1))

    assert mastodon.lookup(later, idempotency_key="delivery-14") is None


def test_check_names_the_account(mastodon: Mastodon, mastodon_server: MastodonPeer) -> None:  # noqa: F811
    assert mastodon.check() == f"@publisher on {mastodon_server.url}"


def test_an_iso_reset_is_read_as_seconds_from_now() -> None:
    now = datetime(2026, 11, 28, 9, 58, 30, tzinfo=UTC)

    assert seconds_until_reset("2026-11-28T10:00:00.000000Z", now=now) == 90.0


def test_an_epoch_reset_is_read_as_seconds_from_now() -> None:
    now = datetime(2026, 11, 28, 9, 58, 30, tzinfo=UTC)
    epoch = datetime(2026, 11, 28, 10, 0, tzinfo=UTC).timestamp()

    assert seconds_until_reset(str(int(epoch)), now=now) == 90.0


def test_a_reset_in_the_past_or_unreadable_gives_no_negative_wait() -> None:
    now = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)

    assert seconds_until_reset("2026-11-28T09:00:00Z", now=now) == 0.0
    assert seconds_until_reset("soon", now=now) is None
    assert seconds_until_reset(None, now=now) is None


def test_a_private_address_refused_by_the_session_guard_is_permanent(
    mastodon_server: MastodonPeer,  # noqa: F811
) -> None:
    guarded = Mastodon(
        Mastodon.Config(
            base_url=mastodon_server.url, access_token=SecretStr(mastodon_server.token)
        ),
        make_session(timeout=5),
        MemoryState(),
    )

    with pytest.raises(ChannelError) as caught:
        guarded.publish(_message(), idempotency_key="delivery-15")

    assert caught.value.permanent
    assert mastodon_server.statuses() == []


def test_a_5xx_with_retry_after_is_a_failure_not_a_rate_limit(
    mastodon: Mastodon,
    mastodon_server: MastodonPeer,  # noqa: F811
) -> None:
    mastodon_server.inject_fault(
        "/api/v1/statuses", {"type": "status", "status": 503, "headers": {"Retry-After": "30"}}
    )

    with pytest.raises(ChannelError) as caught:
        mastodon.publish(_message(), idempotency_key="delivery-11")

    assert not caught.value.rate_limited


# -- through the Sender and the ledger ---------------------------------------------------


def test_five_429s_in_a_row_use_no_attempt_and_the_status_is_posted_once_after_them(
    tmp_path: Path,
    mastodon_server: MastodonPeer,  # noqa: F811
) -> None:
    options = {"base_url": mastodon_server.url, "access_token": mastodon_server.token}
    post = _message().post
    setup = post_setup(tmp_path, [("mastodon-main", "mastodon", options)], post, max_attempts=2)
    mastodon_server.inject_fault("/api/v1/statuses", {"type": "ratelimit"}, count=5)
    for _ in range(5):
        assert send_due(setup) == {"pending": 1}
        row = the_row(setup, "mastodon-main")
        assert (row.state, row.attempts) == ("pending", 0), "being told to wait is no failure"
        assert (row.last_error or "").startswith("waiting for mastodon rate limit until")
        # mastodon-mock's window resets 300 s after each refusal.
        assert row.not_before >= row.updated_at + timedelta(seconds=290), "never before it"
        make_due(setup, "mastodon-main")
        assert send_due(setup) == {"pending": 1}, "dispatched early, the account still waits"
        the_rate_limit_resets(setup)
    assert send_due(setup) == {"sent": 1}
    (status,) = mastodon_server.statuses()
    row = the_row(setup, "mastodon-main")
    assert (row.state, row.remote_id, row.attempts) == ("sent", status["id"], 1)
