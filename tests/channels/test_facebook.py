"""The Facebook Pages adapter against a loopback fake of the Graph API."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from distributor.channels.base import AuthExpired, ChannelError, Outgoing
from distributor.channels.facebook import Facebook
from distributor.domain import Image, PostRendition
from tests.channels.ledger import (
    channel_row,
    delivery,
    one_channel_setup,
    reconcile,
    send_when_due,
)
from tests.channels.posting import (
    LINK,
    PNG,
    adapter,
    assert_rate_limited_without_an_attempt,
    outgoing,
    post_setup,
    the_rate_limit_resets,
    the_row,
)
from tests.factories import send_due
from tests.peers.fakes.facebook import PAGE_ID, PAGE_TOKEN, FakeFacebook
from tests.peers.local import free_port

TEXT = f"Civil society meets the Secretary-General: what was said & what's next {LINK}"


@pytest.fixture
def fake() -> Iterator[FakeFacebook]:
    with FakeFacebook() as server:
        yield server


def _options(fake: FakeFacebook, token: str = PAGE_TOKEN) -> dict[str, str]:
    return {"page_id": PAGE_ID, "page_access_token": token, "api_base": fake.api_base}


def _channel(fake: FakeFacebook, *, token: str = PAGE_TOKEN, timeout: float = 5.0) -> Facebook:
    return adapter(Facebook, _options(fake, token), timeout=timeout)


def _post(text: str = TEXT, *, link: str | None = LINK, image: bool = False) -> PostRendition:
    return PostRendition(
        platform="facebook",
        text=text,
        length=len(text),
        limit=63206,
        link=link,
        image=Image(url="https://ishr.ch/media/delegates.png", alt="Delegates around a table")
        if image
        else None,
    )


def _message(post: PostRendition | None = None, *, image: bool = False) -> Outgoing:
    return outgoing(post or _post(image=image), image=image)


def test_a_link_post_sends_the_text_and_the_link_with_the_token_in_the_body(
    fake: FakeFacebook,
) -> None:
    receipt = _channel(fake).publish(_message(), idempotency_key="delivery-1")

    [post] = fake.posts
    assert receipt.remote_id == post.id
    assert receipt.url == f"https://www.facebook.com/{PAGE_ID}/posts/{post.id.split('_')[1]}"
    assert (post.message, post.link) == (TEXT, LINK)
    [call] = fake.calls("POST", f"/v25.0/{PAGE_ID}/feed")
    assert call.form() == {"message": TEXT, "link": LINK, "access_token": PAGE_TOKEN}
    assert call.query == {}, "the token never travels in the URL of a post"


def test_a_post_with_an_image_is_a_photo_post_with_its_alt_text(fake: FakeFacebook) -> None:
    receipt = _channel(fake).publish(_message(image=True), idempotency_key="delivery-2")

    [post] = fake.posts
    assert receipt.remote_id == post.id
    assert post.message == TEXT
    assert post.alt_text_custom == "Delegates around a table"
    assert post.image == PNG
    [call] = fake.calls("POST", f"/v25.0/{PAGE_ID}/photos")
    fields = {k: v.decode() for k, v in call.multipart().items() if k != "source"}
    assert fields == {
        "caption": TEXT,
        "alt_text_custom": "Delegates around a table",
        "published": "true",
        "access_token": PAGE_TOKEN,
    }
    assert fake.calls("POST", f"/v25.0/{PAGE_ID}/feed") == []


@pytest.mark.parametrize("code", [4, 17, 32, 613, 80001])
def test_a_throttling_code_says_to_retry_when_the_page_regains_access(
    fake: FakeFacebook, code: int
) -> None:
    fake.throttle(regain_minutes=7, code=code)

    with pytest.raises(ChannelError) as caught:
        _channel(fake).publish(_message(), idempotency_key="delivery-3")

    assert caught.value.retry_after == 7 * 60
    assert caught.value.rate_limited, "throttling is Facebook saying wait, not a failure"
    assert not caught.value.permanent
    assert not caught.value.ambiguous
    assert fake.posts == []
    _channel(fake).publish(_message(), idempotency_key="delivery-3")
    assert len(fake.posts) == 1


def test_an_expired_page_token_means_the_page_needs_reconnecting(fake: FakeFacebook) -> None:
    fake.expire_token()

    with pytest.raises(AuthExpired) as caught:
        _channel(fake).publish(_message(), idempotency_key="delivery-4")

    assert "190/463" in caught.value.message
    assert PAGE_TOKEN not in caught.value.message


def test_a_token_for_another_page_is_a_lost_permission_that_needs_reconnecting(
    fake: FakeFacebook,
) -> None:
    channel = adapter(Facebook, {**_options(fake), "page_id": "999"})

    with pytest.raises(AuthExpired):
        channel.publish(_message(), idempotency_key="delivery-5")


def test_repeating_the_previous_post_is_refused_as_a_duplicate_that_may_already_be_there(
    fake: FakeFacebook,
) -> None:
    channel = _channel(fake)
    channel.publish(_message(), idempotency_key="delivery-6")

    with pytest.raises(ChannelError) as caught:
        channel.publish(_message(), idempotency_key="delivery-6")

    assert caught.value.ambiguous, "reconciliation decides, not a blind failure"
    assert "506" in caught.value.message
    assert len(fake.posts) == 1


def test_a_thread_cannot_be_posted_to_a_page(fake: FakeFacebook) -> None:
    post = PostRendition(
        platform="facebook", text=TEXT, length=1, limit=63206, link=LINK, thread=["more"]
    )

    with pytest.raises(ChannelError) as caught:
        _channel(fake).publish(_message(post), idempotency_key="delivery-7")

    assert caught.value.permanent
    assert fake.requests == []


def test_lookup_finds_the_post_by_its_link_and_ignores_other_and_older_posts(
    fake: FakeFacebook,
) -> None:
    channel = _channel(fake)
    message = _message()
    receipt = channel.publish(message, idempotency_key="delivery-8")
    other = _message(_post("Another story https://ishr.ch/other/", link=None))
    channel.publish(other, idempotency_key="delivery-other")

    assert channel.lookup(message, idempotency_key="delivery-8") == receipt
    never = _message(_post("Not posted https://ishr.ch/never/", link="https://ishr.ch/never/"))
    assert channel.lookup(never, idempotency_key="delivery-9") is None
    later = Outgoing(post=message.post, created_at=message.created_at + timedelta(hours=1))
    assert channel.lookup(later, idempotency_key="delivery-10") is None


def test_check_names_the_page(fake: FakeFacebook) -> None:
    assert _channel(fake).check() == f"ISHR News (Facebook Page {PAGE_ID})"


def test_a_refused_connection_is_retryable_and_never_shows_the_token() -> None:
    nobody = f"http://127.0.0.1:{free_port()}/v25.0"
    channel = adapter(
        Facebook, {"page_id": PAGE_ID, "page_access_token": PAGE_TOKEN, "api_base": nobody}
    )

    with pytest.raises(ChannelError) as caught:
        channel.lookup(_message(), idempotency_key="delivery-11")

    assert not caught.value.permanent and not caught.value.ambiguous
    assert PAGE_TOKEN not in caught.value.message


def test_a_known_token_expiry_is_reported_for_the_daily_check(fake: FakeFacebook) -> None:
    expires = datetime(2027, 1, 27, 12, 0, tzinfo=UTC)
    channel = adapter(Facebook, {**_options(fake), "token_expires_at": expires.isoformat()})

    assert channel.token_expires_at() == expires
    assert _channel(fake).token_expires_at() is None


# -- through the ledger -------------------------------------------------------------------


def test_a_server_error_on_posting_is_unknown_then_reconciled_and_sent_once(
    tmp_path: Path, fake: FakeFacebook
) -> None:
    setup = one_channel_setup(tmp_path, "facebook", _options(fake), _post())
    fake.server_error(path=f"/v25.0/{PAGE_ID}/feed")

    assert send_due(setup) == {"unknown": 1}
    assert reconcile(setup) == {"sent": 0, "resend": 1, "still_unknown": 0}
    assert send_when_due(setup) == {"sent": 1}

    [post] = fake.posts
    assert delivery(setup).remote_id == post.id


def test_a_timeout_after_facebook_accepted_is_unknown_and_reconciled_to_the_one_post(
    tmp_path: Path, fake: FakeFacebook
) -> None:
    setup = one_channel_setup(tmp_path, "facebook", _options(fake), _post(), http_timeout=0.5)
    fake.hang_after_accept(method="POST", path=f"/v25.0/{PAGE_ID}/feed", seconds=3)

    assert send_due(setup) == {"unknown": 1}
    assert reconcile(setup) == {"sent": 1, "resend": 0, "still_unknown": 0}

    [post] = fake.posts
    row = delivery(setup)
    assert (row.state, row.remote_id) == ("sent", post.id)
    assert len(fake.calls("POST", f"/v25.0/{PAGE_ID}/feed")) == 1


def test_a_throttled_delivery_waits_until_the_page_regains_access(
    tmp_path: Path, fake: FakeFacebook
) -> None:
    setup = one_channel_setup(tmp_path, "facebook", _options(fake), _post())
    fake.throttle(regain_minutes=12)

    assert send_due(setup) == {"pending": 1}
    row = delivery(setup)
    assert "80001" in (row.last_error or "")
    assert row.not_before >= row.updated_at + timedelta(minutes=12) - timedelta(seconds=1)
    assert send_due(setup, at=timedelta(minutes=11)) == {}, "not before the regain time"
    assert fake.posts == []


def test_an_expired_token_holds_the_delivery_and_marks_the_page_for_reconnecting(
    tmp_path: Path, fake: FakeFacebook
) -> None:
    setup = one_channel_setup(tmp_path, "facebook", _options(fake), _post())
    fake.expire_token()

    send_due(setup)

    assert channel_row(setup).status == "needs_reconnect"
    assert delivery(setup).state == "pending"
    assert fake.posts == []


def test_a_page_throttled_five_times_in_a_row_posts_once_without_using_an_attempt(
    tmp_path: Path, fake: FakeFacebook
) -> None:
    setup = post_setup(tmp_path, [("fb", "facebook", _options(fake))], _post(), max_attempts=2)
    for _ in range(5):
        fake.throttle(regain_minutes=12)
        assert send_due(setup) == {"pending": 1}
        row = assert_rate_limited_without_an_attempt(setup, "fb")
        assert row.not_before >= row.updated_at + timedelta(minutes=12) - timedelta(seconds=1)
        the_rate_limit_resets(setup)
    assert send_due(setup) == {"sent": 1}
    (post,) = fake.posts
    row = the_row(setup, "fb")
    assert (row.state, row.remote_id, row.attempts) == ("sent", post.id, 1)
    assert len(fake.calls("POST", f"/v25.0/{PAGE_ID}/feed")) == 6


def test_throttling_between_real_failures_does_not_save_a_post_that_keeps_failing(
    tmp_path: Path, fake: FakeFacebook
) -> None:
    setup = post_setup(tmp_path, [("fb", "facebook", _options(fake))], _post(), max_attempts=2)
    fake.policy_block()
    assert send_due(setup) == {"pending": 1}, "one real failure of two allowed"
    for _ in range(2):
        the_rate_limit_resets(setup)
        fake.throttle(regain_minutes=5)
        assert send_due(setup) == {"pending": 1}
    the_rate_limit_resets(setup)
    fake.policy_block()
    assert send_due(setup) == {"failed": 1}
    row = the_row(setup, "fb")
    assert (row.state, row.attempts) == ("failed", 2), "the two real failures used both attempts"
    assert "368" in (row.last_error or "")
    assert fake.posts == []
