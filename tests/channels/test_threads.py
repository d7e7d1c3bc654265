"""The Threads adapter against a loopback fake of the Threads API."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from distributor import tokens
from distributor.channels.base import AuthExpired, ChannelError, Outgoing
from distributor.channels.threads import Threads, count_links
from distributor.domain import Image, PostRendition
from distributor.sending import build_channel
from tests.channels.ledger import (
    channel_row,
    delivery,
    one_channel_setup,
    reconcile,
    send_when_due,
)
from tests.channels.posting import LINK, adapter, outgoing
from tests.factories import send_due
from tests.peers.fakes.threads import TOKEN, USER_ID, FakeThreads

TEXT = f"Civil society meets the Secretary-General 🤝 {LINK}"
IMAGE_URL = "https://ishr.ch/media/delegates.jpg"


class QuickThreads(Threads):
    """Polls containers without waiting between polls (tests assert behaviour, not time)."""

    container_poll_interval = 0.0
    container_wait_seconds = 2.0


@pytest.fixture
def fake() -> Iterator[FakeThreads]:
    with FakeThreads() as server:
        yield server


def _options(fake: FakeThreads, token: str = TOKEN) -> dict[str, str]:
    return {"user_id": USER_ID, "access_token": token, "api_base": fake.api_base}


def _channel(fake: FakeThreads, *, token: str = TOKEN) -> Threads:
    return adapter(QuickThreads, _options(fake, token))


def _post(
    text: str = TEXT,
    *,
    link: str | None = LINK,
    image: bool = False,
    thread: list[str] | None = None,
) -> PostRendition:
    return PostRendition(
        platform="threads",
        text=text,
        length=len(text),
        limit=500,
        link=link,
        image=Image(url=IMAGE_URL, alt="Delegates around a table") if image else None,
        thread=thread or [],
    )


def _message(post: PostRendition | None = None) -> Outgoing:
    return outgoing(post or _post())


def test_a_text_post_is_created_as_a_container_then_published(fake: FakeThreads) -> None:
    receipt = _channel(fake).publish(_message(), idempotency_key="delivery-1")

    [post] = fake.posts
    assert receipt.remote_id == post.id
    assert receipt.url == post.permalink
    assert (post.media_type, post.text) == ("TEXT", TEXT)
    [create] = fake.calls("POST", f"/v1.0/{USER_ID}/threads")
    assert create.form() == {"media_type": "TEXT", "text": TEXT, "access_token": TOKEN}
    [publish] = fake.calls("POST", f"/v1.0/{USER_ID}/threads_publish")
    assert publish.form()["creation_id"] in fake.containers


def test_an_image_post_names_the_public_image_and_its_alt_text(fake: FakeThreads) -> None:
    _channel(fake).publish(_message(_post(image=True)), idempotency_key="delivery-2")

    [post] = fake.posts
    assert (post.media_type, post.image_url, post.alt_text) == (
        "IMAGE",
        IMAGE_URL,
        "Delegates around a table",
    )


def test_a_container_still_in_progress_is_polled_until_it_is_finished() -> None:
    with FakeThreads(polls_until_ready=3) as fake:
        _channel(fake).publish(_message(), idempotency_key="delivery-3")

        [container_id] = fake.containers
        assert len(fake.calls("GET", f"/v1.0/{container_id}")) == 4
        assert len(fake.posts) == 1


def test_a_container_that_never_gets_ready_publishes_nothing_and_is_retried_later() -> None:
    with FakeThreads(polls_until_ready=10_000) as fake:
        with pytest.raises(ChannelError) as caught:
            _channel(fake).publish(_message(), idempotency_key="delivery-4")

        assert not caught.value.permanent and not caught.value.ambiguous
        assert "nothing was published" in caught.value.message
        assert fake.posts == []


def test_a_container_that_failed_is_a_permanent_error_with_threads_reason(
    fake: FakeThreads,
) -> None:
    fake.next_container_ends("ERROR", "FAILED_DOWNLOADING_IMAGE")

    with pytest.raises(ChannelError) as caught:
        _channel(fake).publish(_message(_post(image=True)), idempotency_key="delivery-5")

    assert caught.value.permanent
    assert "FAILED_DOWNLOADING_IMAGE" in caught.value.message
    assert fake.posts == []


def test_more_than_five_links_are_refused_before_anything_is_sent(fake: FakeThreads) -> None:
    links = " ".join(f"https://ishr.ch/story/{n}" for n in range(6))

    with pytest.raises(ChannelError) as caught:
        _channel(fake).publish(_message(_post(f"Six stories: {links}")), idempotency_key="d-6")

    assert caught.value.permanent
    assert "at most 5 links" in caught.value.message and "has 6" in caught.value.message
    assert fake.requests == []


def test_links_are_counted_once_each_as_threads_counts_them() -> None:
    assert count_links(f"{LINK} and again {LINK}") == 1
    assert count_links("see www.ishr.ch and https://ishr.ch/a, https://ishr.ch/b.") == 3
    assert count_links("no links at all") == 0


def test_a_link_limit_refusal_by_threads_itself_is_a_permanent_error(fake: FakeThreads) -> None:
    # Should Threads count a link our count does not see, its refusal still ends the delivery.
    fake.fail(
        400,
        {
            "error": {
                "message": "THREADS_API__LINK_LIMIT_EXCEEDED",
                "type": "THApiException",
                "code": 100,
                "error_subcode": 4279029,
            }
        },
        method="POST",
        path=f"/v1.0/{USER_ID}/threads",
    )

    with pytest.raises(ChannelError) as caught:
        _channel(fake).publish(_message(), idempotency_key="delivery-7")

    assert caught.value.permanent and not caught.value.ambiguous
    assert "THREADS_API__LINK_LIMIT_EXCEEDED" in caught.value.message
    assert fake.posts == []


def test_a_thread_is_published_as_a_chain_of_replies(fake: FakeThreads) -> None:
    post = _post(thread=["2/3 The delegates asked for…", "3/3 Read more on our site."])

    receipt = _channel(fake).publish(_message(post), idempotency_key="delivery-8")

    root, first, second = reversed(fake.posts)
    assert receipt.remote_id == root.id and root.reply_to_id is None
    assert (first.text, first.reply_to_id) == ("2/3 The delegates asked for…", root.id)
    assert (second.text, second.reply_to_id) == ("3/3 Read more on our site.", first.id)


def test_a_reply_that_fails_after_the_first_post_is_live_is_ambiguous_not_retried(
    fake: FakeThreads,
) -> None:
    post = _post(thread=["2/2 More."])
    channel = _channel(fake)
    fake.next_container_ends("FINISHED")
    fake.next_container_ends("ERROR", "UNKNOWN")

    with pytest.raises(ChannelError) as caught:
        channel.publish(_message(post), idempotency_key="delivery-9")

    assert caught.value.ambiguous
    assert "is published but reply 1 of 1 failed" in caught.value.message
    assert [p.text for p in fake.posts] == [TEXT]


def test_a_retry_after_a_reply_failed_resumes_the_thread_without_reposting_the_start(
    fake: FakeThreads,
) -> None:
    post = _post(thread=["2/3 The delegates asked for…", "3/3 Read more on our site."])
    channel = _channel(fake)
    fake.next_container_ends("FINISHED")
    fake.next_container_ends("EXPIRED")

    with pytest.raises(ChannelError) as caught:
        channel.publish(_message(post), idempotency_key="delivery-9b")
    assert not caught.value.permanent and not caught.value.ambiguous
    receipt = channel.publish(_message(post), idempotency_key="delivery-9b")

    root, first, second = reversed(fake.posts)
    assert receipt.remote_id == root.id and root.text == TEXT
    assert (first.reply_to_id, second.reply_to_id) == (root.id, first.id)
    assert channel.lookup(_message(post), idempotency_key="delivery-9b") == receipt


def test_a_publishing_limit_says_when_to_retry(fake: FakeThreads) -> None:
    fake.throttle(regain_minutes=45)

    with pytest.raises(ChannelError) as caught:
        _channel(fake).publish(_message(), idempotency_key="delivery-10")

    assert caught.value.retry_after == 45 * 60
    assert not caught.value.permanent and not caught.value.ambiguous
    assert fake.posts == []


def test_a_publishing_limit_is_a_rate_limit_not_a_failure(fake: FakeThreads) -> None:
    fake.throttle(regain_minutes=45)

    with pytest.raises(ChannelError) as caught:
        _channel(fake).publish(_message(), idempotency_key="delivery-10")

    assert caught.value.rate_limited


def test_an_expired_token_means_reconnecting(fake: FakeThreads) -> None:
    fake.expire_token()

    with pytest.raises(AuthExpired) as caught:
        _channel(fake).publish(_message(), idempotency_key="delivery-11")

    assert TOKEN not in caught.value.message


def test_a_valid_token_is_refreshed_for_sixty_days(fake: FakeThreads) -> None:
    grant = _channel(fake).refresh()

    assert grant.secrets["access_token"] != TOKEN
    assert grant.expires_at is not None
    assert grant.expires_at - datetime.now(UTC) > timedelta(days=59)
    refreshed = _channel(fake, token=grant.secrets["access_token"])
    refreshed.publish(_message(), idempotency_key="delivery-12")
    assert len(fake.posts) == 1


def test_an_expired_token_cannot_be_refreshed(fake: FakeThreads) -> None:
    fake.expire_token()

    with pytest.raises(AuthExpired):
        _channel(fake).refresh()


def test_lookup_finds_the_post_by_its_link_and_ignores_older_ones(fake: FakeThreads) -> None:
    channel = _channel(fake)
    message = _message()
    receipt = channel.publish(message, idempotency_key="delivery-13")
    channel.publish(_message(_post("Another story", link=None)), idempotency_key="other")

    assert channel.lookup(message, idempotency_key="delivery-13") == receipt
    never = _message(_post("Not posted https://ishr.ch/never/", link="https://ishr.ch/never/"))
    assert channel.lookup(never, idempotency_key="delivery-14") is None
    later = Outgoing(post=message.post, created_at=message.created_at + timedelta(hours=1))
    assert channel.lookup(later, idempotency_key="delivery-15") is None


def test_check_names_the_profile(fake: FakeThreads) -> None:
    assert _channel(fake).check() == f"@ishr_news on Threads ({USER_ID})"


# -- through the ledger -------------------------------------------------------------------


def test_a_server_error_on_publishing_is_unknown_then_reconciled_and_sent_once(
    tmp_path: Path, fake: FakeThreads
) -> None:
    setup = one_channel_setup(tmp_path, "threads", _options(fake), _post())
    fake.fail(
        500,
        {"error": {"message": "An unknown error occurred", "type": "OAuthException", "code": 1}},
        method="POST",
        path=f"/v1.0/{USER_ID}/threads_publish",
    )

    assert send_due(setup) == {"unknown": 1}
    assert reconcile(setup) == {"sent": 0, "resend": 1, "still_unknown": 0}
    assert send_when_due(setup) == {"sent": 1}

    [post] = fake.posts
    assert delivery(setup).remote_id == post.id


def test_a_timeout_after_threads_published_is_unknown_and_reconciled_to_the_one_post(
    tmp_path: Path, fake: FakeThreads
) -> None:
    setup = one_channel_setup(tmp_path, "threads", _options(fake), _post(), http_timeout=0.5)
    fake.hang_after_accept(method="POST", path=f"/v1.0/{USER_ID}/threads_publish", seconds=3)

    assert send_due(setup) == {"unknown": 1}
    assert reconcile(setup) == {"sent": 1, "resend": 0, "still_unknown": 0}

    [post] = fake.posts
    row = delivery(setup)
    assert (row.state, row.remote_id, row.remote_url) == ("sent", post.id, post.permalink)


def test_a_throttled_delivery_waits_until_threads_regains_access(
    tmp_path: Path, fake: FakeThreads
) -> None:
    setup = one_channel_setup(tmp_path, "threads", _options(fake), _post())
    fake.throttle(regain_minutes=45)

    assert send_due(setup) == {"pending": 1}
    row = delivery(setup)
    assert row.not_before >= row.updated_at + timedelta(minutes=45) - timedelta(seconds=1)
    assert send_due(setup, at=timedelta(minutes=44)) == {}, "not before the regain time"
    assert fake.posts == []


def test_an_expired_token_is_refreshed_once_then_the_channel_needs_reconnecting(
    tmp_path: Path, fake: FakeThreads
) -> None:
    setup = one_channel_setup(tmp_path, "threads", _options(fake), _post())
    fake.expire_token()

    send_due(setup)

    assert len(fake.calls("GET", "/refresh_access_token")) == 1
    assert channel_row(setup).status == "needs_reconnect"
    assert delivery(setup).state == "pending"
    assert fake.posts == []


def test_a_refreshed_token_is_stored_sealed_with_its_expiry_and_used_for_the_next_post(
    tmp_path: Path, fake: FakeThreads
) -> None:
    setup = one_channel_setup(tmp_path, "threads", _options(fake), _post())
    row = channel_row(setup)
    channel = build_channel(row, setup.db, setup.settings)

    tokens.refresh_credentials(setup.db, setup.settings, row.id, seen=row.config, channel=channel)

    refreshed = channel_row(setup)
    assert TOKEN not in str(refreshed.config) and refreshed.token_expires_at is not None
    assert refreshed.token_expires_at - datetime.now(UTC) > timedelta(days=59)
    assert send_due(setup) == {"sent": 1}
    [publish] = fake.calls("POST", f"/v1.0/{USER_ID}/threads_publish")
    assert publish.form()["access_token"] not in (TOKEN, "")
