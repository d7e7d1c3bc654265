"""The Telegram adapter against a loopback fake of the Bot API."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from distributor.channels.base import AuthExpired, ChannelError, Outgoing
from distributor.channels.telegram import Telegram
from distributor.domain import Image, PostRendition
from distributor.sending import Sender
from tests.channels.ledger import channel_row, delivery, one_channel_setup, reconcile
from tests.channels.posting import (
    PNG,
    adapter,
    assert_rate_limited_without_an_attempt,
    outgoing,
    post_setup,
    the_rate_limit_resets,
    the_row,
)
from tests.factories import send_due
from tests.peers.fakes.telegram import BOT_TOKEN, CHANNEL, FakeTelegram, parse_html
from tests.peers.local import free_port

LINK = "https://ishr.ch/latest-updates/civil-society-meets-secretary-general/?lang=en&src=tg"
TITLE = "UN <Human Rights> Council & civil society: 'what's next?'"
TEXT = f"{TITLE}\n\n{LINK}"


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram() as server:
        yield server


def _options(fake: FakeTelegram, token: str = BOT_TOKEN) -> dict[str, str]:
    return {"bot_token": token, "chat_id": CHANNEL, "api_base": fake.api_base}


def _channel(fake: FakeTelegram, *, token: str = BOT_TOKEN, timeout: float = 5.0) -> Telegram:
    return adapter(Telegram, _options(fake, token), timeout=timeout)


def _post(text: str = TEXT, *, image: bool = False) -> PostRendition:
    return PostRendition(
        platform="telegram",
        text=text,
        length=len(text),
        limit=4096,
        link=LINK,
        image=Image(url="https://ishr.ch/media/delegates.png", alt="Delegates") if image else None,
    )


def _message(post: PostRendition | None = None, *, image: bool = False) -> Outgoing:
    return outgoing(post or _post(image=image), image=image)


def test_a_channel_post_is_escaped_html_that_reads_exactly_as_approved(
    fake: FakeTelegram,
) -> None:
    receipt = _channel(fake).publish(_message(), idempotency_key="delivery-1")

    [post] = fake.posts
    assert post.text == TEXT, "after Telegram parses the HTML, readers see the approved text"
    assert post.raw == {
        "chat_id": CHANNEL,
        "text": (
            "UN &lt;Human Rights&gt; Council &amp; civil society: 'what's next?'\n\n"
            "https://ishr.ch/latest-updates/civil-society-meets-secretary-general/"
            "?lang=en&amp;src=tg"
        ),
        "parse_mode": "HTML",
        "disable_notification": False,
        "link_preview_options": {"url": LINK, "prefer_large_media": True},
    }
    assert receipt.remote_id == str(post.message_id)
    assert receipt.url == f"https://t.me/ishr_news/{post.message_id}"


def test_unescaped_html_is_what_telegram_would_refuse() -> None:
    with pytest.raises(ValueError, match="Unsupported start tag"):
        parse_html(TITLE)


def test_a_post_with_an_image_is_a_photo_with_the_text_as_its_caption(
    fake: FakeTelegram,
) -> None:
    _channel(fake).publish(_message(image=True), idempotency_key="delivery-2")

    [post] = fake.posts
    assert post.photo == PNG
    assert post.text == TEXT
    assert post.raw == {
        "chat_id": CHANNEL,
        "caption": (
            "UN &lt;Human Rights&gt; Council &amp; civil society: 'what's next?'\n\n"
            "https://ishr.ch/latest-updates/civil-society-meets-secretary-general/"
            "?lang=en&amp;src=tg"
        ),
        "parse_mode": "HTML",
        "disable_notification": "false",
    }


def test_a_text_too_long_for_a_caption_is_one_message_previewing_the_article(
    fake: FakeTelegram,
) -> None:
    long_text = "Delegates said " + "x" * 1010 + f" {LINK}"

    _channel(fake).publish(_message(_post(long_text, image=True)), idempotency_key="delivery-3")

    [post] = fake.posts
    assert post.photo is None
    assert post.text == long_text
    assert post.link_preview_options == {"url": LINK, "prefer_large_media": True}


def test_flood_control_says_when_to_retry_and_the_retry_lands(fake: FakeTelegram) -> None:
    fake.flood(retry_after=37)
    channel = _channel(fake)

    with pytest.raises(ChannelError) as caught:
        channel.publish(_message(), idempotency_key="delivery-4")

    assert caught.value.retry_after == 37
    assert caught.value.rate_limited, "flood control is Telegram saying wait, not a failure"
    assert not caught.value.permanent and not caught.value.ambiguous
    assert fake.posts == []
    channel.publish(_message(), idempotency_key="delivery-4")
    assert len(fake.posts) == 1


def test_a_revoked_bot_token_needs_reconnecting_and_is_never_shown(fake: FakeTelegram) -> None:
    fake.revoke_token()

    with pytest.raises(AuthExpired) as caught:
        _channel(fake).publish(_message(), idempotency_key="delivery-5")

    assert "401" in caught.value.message
    assert BOT_TOKEN not in caught.value.message


def test_a_bot_removed_from_the_channel_needs_reconnecting(fake: FakeTelegram) -> None:
    fake.remove_bot_from_channel()

    with pytest.raises(AuthExpired) as caught:
        _channel(fake).publish(_message(), idempotency_key="delivery-6")

    assert "not a member of the channel" in caught.value.message


def test_a_server_error_after_sending_is_ambiguous(fake: FakeTelegram) -> None:
    fake.fail(
        502,
        {"ok": False, "error_code": 502, "description": "Bad Gateway"},
        method="POST",
        path=".*/sendMessage",
    )

    with pytest.raises(ChannelError) as caught:
        _channel(fake).publish(_message(), idempotency_key="delivery-7")

    assert caught.value.ambiguous


def test_a_refused_connection_never_shows_the_token_in_the_error() -> None:
    nobody = f"http://127.0.0.1:{free_port()}"
    channel = adapter(Telegram, {"bot_token": BOT_TOKEN, "chat_id": CHANNEL, "api_base": nobody})

    with pytest.raises(ChannelError) as caught:
        channel.publish(_message(), idempotency_key="delivery-8")

    assert not caught.value.ambiguous and not caught.value.permanent
    assert BOT_TOKEN not in caught.value.message
    assert "[redacted]" in caught.value.message


def test_a_chat_id_that_is_neither_a_username_nor_a_number_is_refused_when_configured() -> None:
    with pytest.raises(ValueError, match="chat_id"):
        Telegram.Config.model_validate({"bot_token": BOT_TOKEN, "chat_id": "ishr news"})


def test_check_names_the_bot_and_the_channel(fake: FakeTelegram) -> None:
    assert _channel(fake).check() == "@ishr_news_bot posting to ISHR News"


# -- through the ledger -------------------------------------------------------------------


def test_flood_control_puts_the_delivery_back_until_retry_after_has_passed(
    tmp_path: Path, fake: FakeTelegram
) -> None:
    setup = one_channel_setup(tmp_path, "telegram", _options(fake), _post())
    fake.flood(retry_after=40)

    assert send_due(setup) == {"pending": 1}
    row = delivery(setup)
    assert "retry after 40" in (row.last_error or "")
    assert row.not_before >= row.updated_at + timedelta(seconds=39)
    assert send_due(setup, at=timedelta(seconds=30)) == {}, "not before retry_after"
    assert fake.posts == []


def test_flood_control_five_times_in_a_row_uses_no_attempt_and_the_post_goes_out_once(
    tmp_path: Path, fake: FakeTelegram
) -> None:
    setup = post_setup(tmp_path, [("tg", "telegram", _options(fake))], _post(), max_attempts=2)
    for _ in range(5):
        fake.flood(retry_after=40)
        assert send_due(setup) == {"pending": 1}
        row = assert_rate_limited_without_an_attempt(setup, "tg")
        assert row.not_before >= row.updated_at + timedelta(seconds=39), "never before it"
        the_rate_limit_resets(setup)
    assert send_due(setup) == {"sent": 1}
    assert len(fake.posts) == 1
    row = the_row(setup, "tg")
    assert (row.state, row.attempts) == ("sent", 1)
    assert len(fake.calls("POST", f"/bot{BOT_TOKEN}/sendMessage")) == 6


def test_a_server_error_with_retry_after_is_a_failure_not_flood_control(
    fake: FakeTelegram,
) -> None:
    fake.fail(
        502,
        {"ok": False, "error_code": 502, "description": "Bad Gateway"},
        headers={"Retry-After": "30"},
        method="POST",
        path=".*/getMe",
    )
    with pytest.raises(ChannelError) as caught:
        _channel(fake).check()
    assert not caught.value.rate_limited


def test_a_timeout_after_telegram_accepted_stays_unknown_for_a_person(
    tmp_path: Path, fake: FakeTelegram
) -> None:
    setup = one_channel_setup(tmp_path, "telegram", _options(fake), _post(), http_timeout=0.5)
    fake.hang_after_accept(method="POST", path=".*/sendMessage", seconds=3)

    assert send_due(setup) == {"unknown": 1}
    assert reconcile(setup) == {"sent": 0, "resend": 0, "still_unknown": 0}, (
        "Telegram cannot be asked, so reconciliation leaves it alone"
    )
    with pytest.raises(ChannelError, match="cannot look up"):
        _channel(fake).lookup(_message(), idempotency_key="delivery-9")
    assert delivery(setup).state == "unknown"
    assert len(fake.posts) == 1


def test_a_revoked_token_is_not_refreshable_and_the_channel_needs_reconnecting(
    tmp_path: Path, fake: FakeTelegram
) -> None:
    setup = one_channel_setup(tmp_path, "telegram", _options(fake), _post())
    fake.revoke_token()

    send_due(setup)

    assert channel_row(setup).status == "needs_reconnect"
    assert delivery(setup).state == "pending"
    assert fake.posts == []
    assert Sender(setup.db, setup.settings).reconcile()["sent"] == 0
