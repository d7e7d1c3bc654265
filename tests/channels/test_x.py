"""The X adapter over HTTP against the X fake (platform-apis.md §3), alone and through the real
Sender and ledger."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from distributor.channels.base import AuthExpired, ChannelError, Outgoing
from distributor.channels.x import X, retry_after_from
from distributor.domain import Image, PostRendition
from distributor.secrets import open_config
from tests.channels.posting import (
    LINK,
    PNG,
    adapter,
    assert_rate_limited_without_an_attempt,
    audit_actions,
    channel_row,
    make_due,
    outgoing,
    post_setup,
    reconcile,
    the_rate_limit_resets,
    the_row,
)
from tests.factories import send_due
from tests.peers.fakes.x import CLIENT_ID, USER_ID, USERNAME, FakeX

TEXT = f"Civil society meets the UN Secretary-General {LINK}"
KEY = "test-secret-key-not-for-production"


@pytest.fixture
def fake_x() -> Iterator[FakeX]:
    with FakeX() as fake:
        yield fake


def _options(fake: FakeX, **extra: Any) -> dict[str, Any]:
    access, refresh = fake.issue_tokens()
    return {
        "access_token": access,
        "refresh_token": refresh,
        "client_id": CLIENT_ID,
        "username": USERNAME,
        "user_id": USER_ID,
        "api_base": fake.url,
        **extra,
    }


def _channel(fake: FakeX, **extra: Any) -> X:
    return adapter(X, _options(fake, **extra), timeout=2.0)


def _post(
    text: str = TEXT, *, thread: list[str] | None = None, alt: str | None = None
) -> PostRendition:
    return PostRendition(
        platform="x",
        text=text,
        length=len(text),
        limit=280,
        link=LINK,
        image=Image(alt=alt) if alt else None,
        thread=thread or [],
    )


def _message(post: PostRendition | None = None, *, image: bool = False) -> Outgoing:
    return outgoing(post or _post(), image=image)


# -- the adapter alone --------------------------------------------------------------------


def test_a_post_with_an_image_carries_its_alt_text_and_links_to_the_post(fake_x: FakeX) -> None:
    x = _channel(fake_x)
    receipt = x.publish(
        _message(_post(alt="Delegates around a table"), image=True), idempotency_key="k1"
    )
    (tweet,) = fake_x.posted()
    assert receipt.remote_id == tweet.id
    assert receipt.url == f"https://x.com/{USERNAME}/status/{tweet.id}"
    assert tweet.urls[0]["expanded_url"] == LINK
    (media,) = fake_x.media.values()
    assert tweet.media_ids == list(fake_x.media)
    assert (media["alt"], media["category"], media["bytes"]) == (
        "Delegates around a table",
        "tweet_image",
        PNG,
    )


def test_a_thread_is_posted_as_replies_each_to_the_one_before(fake_x: FakeX) -> None:
    x = _channel(fake_x)
    receipt = x.publish(_message(_post(thread=["2/3 more", "3/3 end"])), idempotency_key="k")
    first, second, third = fake_x.posted()
    assert receipt.remote_id == first.id
    assert (first.reply_to, second.reply_to, third.reply_to) == (None, first.id, second.id)


def test_a_thread_cut_short_resumes_after_its_last_confirmed_post(fake_x: FakeX) -> None:
    x = _channel(fake_x)
    message = _message(_post(thread=["2/2 end"]))
    fake_x.limit_posts(1)
    with pytest.raises(ChannelError) as refused:
        x.publish(message, idempotency_key="k")
    assert not refused.value.permanent and not refused.value.ambiguous
    fake_x.limit_posts(100)
    receipt = x.publish(message, idempotency_key="k")
    first, reply = fake_x.posted()
    assert receipt.remote_id == first.id and reply.reply_to == first.id


def test_a_thread_that_stops_part_way_is_left_to_a_person_not_called_sent(fake_x: FakeX) -> None:
    x = _channel(fake_x)
    message = _message(_post(thread=["2/2 end"]))
    fake_x.limit_posts(1)
    with pytest.raises(ChannelError):
        x.publish(message, idempotency_key="k")
    with pytest.raises(ChannelError, match=r"stops after part 1 of 2.*by hand") as undecided:
        x.lookup(message, idempotency_key="k")
    assert undecided.value.permanent, "reconciliation must not resend: the reply may be live"
    fake_x.limit_posts(100)
    receipt = x.publish(message, idempotency_key="k")
    assert x.lookup(message, idempotency_key="k") == receipt


def test_429_waits_until_the_reset_epoch_x_sends(fake_x: FakeX) -> None:
    x = _channel(fake_x)
    fake_x.limit_posts(100, used=100, reset_in=600)
    with pytest.raises(ChannelError) as refused:
        x.publish(_message(), idempotency_key="k")
    error = refused.value
    assert error.retry_after is not None and 595 <= error.retry_after <= 602
    assert error.rate_limited, "a 429 is X saying wait, not a failure"
    assert not error.permanent and fake_x.posted() == []


def test_a_5xx_with_retry_after_is_a_failure_not_a_rate_limit(fake_x: FakeX) -> None:
    x = _channel(fake_x)
    fake_x.fail(
        503, {"title": "Service Unavailable"}, headers={"Retry-After": "30"}, path="/2/tweets"
    )
    with pytest.raises(ChannelError) as refused:
        x.publish(_message(), idempotency_key="k")
    assert not refused.value.rate_limited


def test_the_latest_used_up_window_decides_the_wait() -> None:
    now = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    epoch = now.timestamp()
    headers = {
        "x-rate-limit-remaining": "3",
        "x-rate-limit-reset": str(int(epoch + 60)),
        "x-user-limit-24hour-remaining": "0",
        "x-user-limit-24hour-reset": str(int(epoch + 7200)),
        "x-app-limit-24hour-remaining": "900",
        "x-app-limit-24hour-reset": str(int(epoch + 86000)),
    }
    assert retry_after_from(headers, now=now) == 7201
    assert retry_after_from({}, now=now) == 60


def test_an_expired_token_is_auth_expired_and_a_refresh_rotates_both_tokens(
    fake_x: FakeX,
) -> None:
    x = _channel(fake_x)
    fake_x.expire_token(x.settings.access_token.get_secret_value())
    with pytest.raises(AuthExpired):
        x.publish(_message(), idempotency_key="k")
    grant = x.refresh()
    assert grant.secrets["access_token"] in fake_x.access_tokens
    assert grant.secrets["refresh_token"] in fake_x.refresh_tokens
    assert grant.expires_at is not None and grant.expires_at > datetime.now(UTC) + timedelta(
        hours=1
    )
    with pytest.raises(AuthExpired, match="refused the token refresh"):
        x.refresh()  # the old refresh token was single use


def test_a_duplicate_of_our_own_earlier_post_is_that_post(fake_x: FakeX) -> None:
    x = _channel(fake_x)
    earlier = fake_x.seed_tweet(TEXT)
    receipt = x.publish(_message(), idempotency_key="k")
    assert receipt.remote_id == earlier.id
    assert len(fake_x.posted()) == 1


def test_a_duplicate_of_an_old_post_fails_for_a_person_to_look_at(fake_x: FakeX) -> None:
    x = _channel(fake_x)
    fake_x.seed_tweet(TEXT, created_at=datetime.now(UTC) - timedelta(days=3))
    with pytest.raises(ChannelError, match="duplicate content") as refused:
        x.publish(_message(), idempotency_key="k")
    assert refused.value.permanent


def test_lookup_finds_the_post_by_its_article_url_and_nothing_else(fake_x: FakeX) -> None:
    x = _channel(fake_x)
    message = _message()
    assert x.lookup(message, idempotency_key="k") is None
    fake_x.seed_tweet("Another story https://ishr.ch/latest-updates/other/")
    assert x.lookup(message, idempotency_key="k") is None
    mine = fake_x.seed_tweet(f"Reworded by hand {LINK}")
    found = x.lookup(message, idempotency_key="k")
    assert found is not None and found.remote_id == mine.id


def test_unknown_fields_are_refused_as_x_does(fake_x: FakeX) -> None:
    import requests

    access, _ = fake_x.issue_tokens()
    response = requests.post(
        f"{fake_x.url}/2/tweets",
        json={"text": "x", "bogus": True},
        headers={"Authorization": f"Bearer {access}"},
        timeout=5,
    )
    assert response.status_code == 400


# -- through the Sender and the ledger ---------------------------------------------------


def _setup(tmp_path: Path, fake: FakeX, database_url: str | None = None, **extra: Any) -> Any:
    channels = [("x-main", "x", _options(fake, **extra))]
    return post_setup(tmp_path, channels, _post(), database_url=database_url)


def test_a_429_is_retried_after_the_reset_and_no_earlier(tmp_path: Path, fake_x: FakeX) -> None:
    setup = _setup(tmp_path, fake_x)
    fake_x.limit_posts(100, used=100, reset_in=600)
    reset = fake_x.window_reset
    assert send_due(setup) == {"pending": 1}
    row = the_row(setup, "x-main")
    assert row.not_before.timestamp() >= reset, "never before X's reset"
    assert send_due(setup) == {}, "not due yet"
    make_due(setup, "x-main")  # even when dispatched early, the account's bucket holds it
    assert send_due(setup) == {"pending": 1}
    assert fake_x.posted() == []
    fake_x.limit_posts(100)  # X's window has reset
    the_rate_limit_resets(setup)
    assert send_due(setup) == {"sent": 1}
    assert len(fake_x.posted()) == 1


def test_five_429s_in_a_row_use_no_attempt_and_the_post_goes_out_once_after_them(
    tmp_path: Path, fake_x: FakeX
) -> None:
    setup = post_setup(tmp_path, [("x-main", "x", _options(fake_x))], _post(), max_attempts=2)
    for _ in range(5):
        fake_x.limit_posts(100, used=100, reset_in=600)
        assert send_due(setup) == {"pending": 1}
        assert send_due(setup) == {}, "not due before the reset"
        row = assert_rate_limited_without_an_attempt(setup, "x-main")
        assert row.not_before.timestamp() >= fake_x.window_reset, "never before X's reset"
        the_rate_limit_resets(setup)
    fake_x.limit_posts(100)
    assert send_due(setup) == {"sent": 1}
    (tweet,) = fake_x.posted()
    row = the_row(setup, "x-main")
    assert (row.state, row.remote_id, row.attempts) == ("sent", tweet.id, 1)
    assert len(fake_x.calls("POST", "/2/tweets")) == 6, "five refusals and one post, no more"


def test_a_5xx_then_success_makes_one_post(tmp_path: Path, fake_x: FakeX) -> None:
    setup = _setup(tmp_path, fake_x)
    fake_x.fail(503, {"title": "Service Unavailable", "status": 503}, path="/2/tweets")
    assert send_due(setup) == {"unknown": 1}, "a 5xx on create may hide a post: look first"
    assert reconcile(setup) == {"sent": 0, "resend": 1, "still_unknown": 0}
    assert send_due(setup) == {"sent": 1}
    assert len(fake_x.posted()) == 1
    assert the_row(setup, "x-main").remote_id == fake_x.posted()[0].id


def test_a_timeout_after_x_accepted_is_unknown_then_reconciled_to_one_post(
    tmp_path: Path, fake_x: FakeX
) -> None:
    setup = _setup(tmp_path, fake_x)
    fake_x.hang_after_accept(method="POST", path="/2/tweets", seconds=10)
    assert send_due(setup) == {"unknown": 1}
    assert reconcile(setup) == {"sent": 1, "resend": 0, "still_unknown": 0}
    (tweet,) = fake_x.posted()
    row = the_row(setup, "x-main")
    assert (row.state, row.remote_id) == ("sent", tweet.id)
    assert send_due(setup, at=timedelta(hours=1)) == {}


def test_an_expired_token_is_refreshed_once_and_the_new_one_sealed(
    tmp_path: Path, fake_x: FakeX, database_url: str
) -> None:
    setup = _setup(tmp_path, fake_x, database_url)
    old = channel_row(setup, "x-main")
    old_access = open_config(old.config["settings"], KEY)
    fake_x.expire_token(old_access["access_token"])
    assert send_due(setup) == {"sent": 1}
    assert len(fake_x.posted()) == 1
    row = channel_row(setup, "x-main")
    stored = open_config(row.config["settings"], KEY)
    assert stored["access_token"] != old_access["access_token"]
    assert stored["access_token"] in fake_x.access_tokens
    assert stored["refresh_token"] in fake_x.refresh_tokens
    assert "xa-" not in str(row.config), "tokens are sealed at rest"
    assert row.token_expires_at is not None and row.token_expires_at > datetime.now(UTC)
    assert row.status == "ok" and "token_refreshed" in audit_actions(setup)


def test_a_refused_refresh_marks_the_channel_and_holds_its_post(
    tmp_path: Path, fake_x: FakeX
) -> None:
    setup = _setup(tmp_path, fake_x)
    stored = open_config(
        channel_row(setup, "x-main").config["settings"], "test-secret-key-not-for-production"
    )
    fake_x.expire_token(stored["access_token"])
    fake_x.revoke_refresh_tokens()
    assert send_due(setup) == {"pending": 1}
    assert len(fake_x.calls("POST", "/2/oauth2/token")) == 1, "one refresh, not a loop"
    row = the_row(setup, "x-main")
    assert row.state == "pending" and row.attempts == 0 and "held" in (row.last_error or "")
    channel = channel_row(setup, "x-main")
    assert channel.status == "needs_reconnect"
    assert send_due(setup, at=timedelta(hours=1)) == {}, "held until someone reconnects"
    assert fake_x.posted() == []


def test_two_workers_refreshing_at_once_use_the_single_use_refresh_token_once(
    tmp_path: Path, fake_x: FakeX, database_url: str
) -> None:
    from distributor.sending import build_channel
    from distributor.tokens import refresh_credentials

    setup = _setup(tmp_path, fake_x, database_url)
    stale = channel_row(setup, "x-main")
    first = build_channel(stale, setup.db, setup.settings)
    second = build_channel(stale, setup.db, setup.settings)
    refresh_credentials(setup.db, setup.settings, stale.id, seen=stale.config, channel=first)
    refresh_credentials(setup.db, setup.settings, stale.id, seen=stale.config, channel=second)
    assert len(fake_x.calls("POST", "/2/oauth2/token")) == 1, "the second found it done"
    assert channel_row(setup, "x-main").status == "ok"
    assert send_due(setup) == {"sent": 1}


def test_reconnecting_with_new_tokens_releases_the_held_post(tmp_path: Path, fake_x: FakeX) -> None:
    from distributor.storage.tables import utcnow
    from distributor.tokens import reconnect

    setup = _setup(tmp_path, fake_x)
    stored = open_config(channel_row(setup, "x-main").config["settings"], KEY)
    fake_x.expire_token(stored["access_token"])
    fake_x.revoke_refresh_tokens()
    assert send_due(setup) == {"pending": 1}
    access, refresh = fake_x.issue_tokens()
    with setup.db.session() as session:
        reconnect(
            session,
            "x-main",
            {"access_token": access, "refresh_token": refresh},
            secret_key=KEY,
            now=utcnow(),
        )
    assert channel_row(setup, "x-main").status == "ok"
    assert send_due(setup) == {"sent": 1}
    assert len(fake_x.posted()) == 1
    assert access not in str(audit_actions(setup))
