"""The LinkedIn adapter over HTTP against the LinkedIn fake (platform-apis.md §4), alone and
through the real Sender and ledger."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from distributor.channels.base import AuthExpired, ChannelError, Outgoing
from distributor.channels.linkedin import LinkedIn, seconds_until_midnight_utc
from distributor.domain import LinkCard, PostRendition
from distributor.rendering.escaping import linkedin_commentary
from distributor.secrets import open_config
from tests.channels.posting import (
    LINK,
    PNG,
    adapter,
    channel_row,
    make_due,
    outgoing,
    post_setup,
    reconcile,
    the_row,
)
from tests.factories import send_due
from tests.peers.fakes.linkedin import ORG, FakeLinkedIn, little_text

TEXT = "Civil society meets the UN #SecretaryGeneral (in Geneva) @ the Palais_des_Nations"
CARD = LinkCard(
    uri=LINK,
    title="Civil society meets the Secretary-General",
    description="Defenders (and #hashtags) speak plainly",
    image_url="https://ishr.ch/hero.png",
)
KEY = "test-secret-key-not-for-production"


@pytest.fixture
def fake_li() -> Iterator[FakeLinkedIn]:
    with FakeLinkedIn() as fake:
        yield fake


def _options(fake: FakeLinkedIn, **extra: Any) -> dict[str, Any]:
    return {
        "access_token": fake.issue_token(),
        "author": ORG,
        "version": "202511",
        "api_base": fake.url,
        "oauth_base": fake.url,
        **extra,
    }


def _channel(fake: FakeLinkedIn, **extra: Any) -> LinkedIn:
    return adapter(LinkedIn, _options(fake, **extra), timeout=2.0)


def _post(text: str = TEXT, *, card: LinkCard | None = CARD) -> PostRendition:
    return PostRendition(
        platform="linkedin", text=text, length=len(text), limit=3000, link=LINK, card=card
    )


def _message(post: PostRendition | None = None, *, image: bool = False) -> Outgoing:
    return outgoing(post or _post(), image=image)


# -- the adapter alone --------------------------------------------------------------------


def test_a_post_carries_the_article_card_with_an_uploaded_thumbnail(
    fake_li: FakeLinkedIn,
) -> None:
    receipt = _channel(fake_li).publish(_message(image=True), idempotency_key="k")
    (post,) = fake_li.posted()
    assert receipt.remote_id == post.urn
    assert receipt.url == f"https://www.linkedin.com/feed/update/{post.urn}/"
    article = post.body["content"]["article"]
    assert (article["source"], article["title"], article["description"]) == (
        LINK,
        CARD.title,
        CARD.description,  # plain strings: not escaped
    )
    assert fake_li.images[article["thumbnail"]] == PNG
    assert post.author == ORG and post.body["lifecycleState"] == "PUBLISHED"


def test_reserved_characters_are_escaped_so_linkedin_keeps_the_whole_text(
    fake_li: FakeLinkedIn,
) -> None:
    _channel(fake_li).publish(_message(), idempotency_key="k")
    (post,) = fake_li.posted()
    assert post.commentary == TEXT
    assert little_text(TEXT) == "Civil society meets the UN #SecretaryGeneral ", (
        "unescaped, LinkedIn cuts it at the parenthesis"
    )


def test_hashtags_reach_linkedin_as_hashtags_and_other_hashes_as_text(
    fake_li: FakeLinkedIn,
) -> None:
    _channel(fake_li).publish(_message(), idempotency_key="k")
    (post,) = fake_li.posted()
    sent = post.body["commentary"]
    assert " #SecretaryGeneral " in sent  # a HashtagElement: LinkedIn links it
    assert "\\(in Geneva\\)" in sent and "\\@ the Palais\\_des\\_Nations" in sent
    assert linkedin_commentary("We are #1 in C# #2030") == "We are \\#1 in C\\# \\#2030"


def test_every_call_sends_the_versioned_headers(fake_li: FakeLinkedIn) -> None:
    _channel(fake_li).publish(_message(image=True), idempotency_key="k")
    for request in fake_li.requests:
        if request.path.startswith("/rest/"):
            assert request.headers["linkedin-version"] == "202511"
            assert request.headers["x-restli-protocol-version"] == "2.0.0"


def test_a_sunset_version_is_a_permanent_error_naming_it(fake_li: FakeLinkedIn) -> None:
    with pytest.raises(ChannelError, match="202301") as refused:
        _channel(fake_li, version="202301").publish(_message(), idempotency_key="k")
    assert refused.value.permanent and fake_li.posted() == []


def test_the_config_names_what_is_wrong() -> None:
    with pytest.raises(ValidationError, match="organisation or member URN"):
        LinkedIn.Config.model_validate({"access_token": "t", "author": "ishr"})
    with pytest.raises(ValidationError, match="YYYYMM"):
        LinkedIn.Config.model_validate({"access_token": "t", "author": ORG, "version": "2025"})


def test_a_duplicate_is_the_existing_post(fake_li: FakeLinkedIn) -> None:
    linkedin = _channel(fake_li)
    first = linkedin.publish(_message(), idempotency_key="k")
    again = linkedin.publish(_message(), idempotency_key="k")
    assert again.remote_id == first.remote_id
    assert len(fake_li.posted()) == 1


def test_429_waits_for_the_daily_reset_at_midnight_utc(fake_li: FakeLinkedIn) -> None:
    fake_li.quota = 0
    with pytest.raises(ChannelError) as refused:
        _channel(fake_li).publish(_message(), idempotency_key="k")
    wait = refused.value.retry_after
    assert wait is not None and not refused.value.permanent
    assert abs(wait - seconds_until_midnight_utc()) < 5
    noon = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    assert seconds_until_midnight_utc(noon) == 12 * 3600 + 1


def test_a_used_up_daily_quota_is_a_rate_limit_not_a_failure(fake_li: FakeLinkedIn) -> None:
    fake_li.quota = 0
    with pytest.raises(ChannelError) as refused:
        _channel(fake_li).publish(_message(), idempotency_key="k")
    assert refused.value.rate_limited


def test_a_5xx_with_retry_after_is_a_failure_not_a_rate_limit(fake_li: FakeLinkedIn) -> None:
    fake_li.fail(503, {"message": "Service Unavailable"}, headers={"Retry-After": "30"})
    with pytest.raises(ChannelError) as refused:
        _channel(fake_li).publish(_message(), idempotency_key="k")
    assert not refused.value.rate_limited


def test_an_expired_token_asks_for_a_reconnect_unless_a_refresh_token_is_stored(
    fake_li: FakeLinkedIn,
) -> None:
    linkedin = _channel(fake_li)
    fake_li.expire_token(linkedin.settings.access_token.get_secret_value())
    with pytest.raises(AuthExpired, match="expired"):
        linkedin.publish(_message(), idempotency_key="k")
    with pytest.raises(AuthExpired, match="reconnect"):
        linkedin.refresh()
    partner = _channel(
        fake_li,
        refresh_token=fake_li.issue_refresh_token(),
        client_id="app",
        client_secret="s3cret",
    )
    grant = partner.refresh()
    assert grant.secrets["access_token"] in fake_li.tokens
    assert grant.expires_at is not None
    assert grant.expires_at > datetime.now(UTC) + timedelta(days=59)


def test_lookup_finds_the_post_by_its_article_url(fake_li: FakeLinkedIn) -> None:
    linkedin = _channel(fake_li)
    assert linkedin.lookup(_message(), idempotency_key="k") is None
    fake_li.seed_post("Something else", source="https://ishr.ch/latest-updates/other/")
    assert linkedin.lookup(_message(), idempotency_key="k") is None
    mine = fake_li.seed_post("Reworded", source=LINK)
    found = linkedin.lookup(_message(), idempotency_key="k")
    assert found is not None and found.remote_id == mine.urn


# -- through the Sender and the ledger ---------------------------------------------------


def _setup(tmp_path: Path, fake: FakeLinkedIn, **extra: Any) -> Any:
    post = _post(card=LinkCard(uri=LINK, title=CARD.title, description=CARD.description))
    return post_setup(tmp_path, [("linkedin-page", "linkedin", _options(fake, **extra))], post)


def test_adding_the_channel_tracks_the_60_day_token(tmp_path: Path, fake_li: FakeLinkedIn) -> None:
    setup = _setup(tmp_path, fake_li)
    expires = channel_row(setup, "linkedin-page").token_expires_at
    assert expires is not None
    assert abs(expires - (datetime.now(UTC) + timedelta(days=60))) < timedelta(minutes=5)


def test_a_429_is_retried_after_midnight_utc_and_no_earlier(
    tmp_path: Path, fake_li: FakeLinkedIn
) -> None:
    setup = _setup(tmp_path, fake_li)
    fake_li.quota = 0
    assert send_due(setup) == {"pending": 1}
    midnight = (
        datetime.now(UTC) + timedelta(seconds=seconds_until_midnight_utc()) - timedelta(seconds=5)
    )
    row = the_row(setup, "linkedin-page")
    assert row.not_before >= midnight
    assert send_due(setup, at=timedelta(0)) == {}
    make_due(setup, "linkedin-page")  # dispatched early anyway: the account's bucket holds it
    assert send_due(setup) == {"pending": 1}
    assert fake_li.posted() == []


def test_a_5xx_then_success_makes_one_post(tmp_path: Path, fake_li: FakeLinkedIn) -> None:
    setup = _setup(tmp_path, fake_li)
    fake_li.fail(
        500, {"status": 500, "message": "Internal Server Error"}, method="POST", path="/rest/posts"
    )
    assert send_due(setup) == {"unknown": 1}
    assert reconcile(setup) == {"sent": 0, "resend": 1, "still_unknown": 0}
    assert send_due(setup) == {"sent": 1}
    (post,) = fake_li.posted()
    assert the_row(setup, "linkedin-page").remote_id == post.urn


def test_a_timeout_after_linkedin_accepted_is_reconciled_to_one_post(
    tmp_path: Path, fake_li: FakeLinkedIn
) -> None:
    setup = _setup(tmp_path, fake_li)
    fake_li.hang_after_accept(method="POST", path="/rest/posts", seconds=10)
    assert send_due(setup) == {"unknown": 1}
    assert reconcile(setup) == {"sent": 1, "resend": 0, "still_unknown": 0}
    (post,) = fake_li.posted()
    assert the_row(setup, "linkedin-page").remote_id == post.urn


def test_an_expired_token_is_refreshed_once_when_the_partner_refresh_exists(
    tmp_path: Path, fake_li: FakeLinkedIn
) -> None:
    setup = _setup(
        tmp_path,
        fake_li,
        refresh_token=fake_li.issue_refresh_token(),
        client_id="app",
        client_secret="s3cret",
    )
    old = open_config(channel_row(setup, "linkedin-page").config["settings"], KEY)
    fake_li.expire_token(old["access_token"])
    assert send_due(setup) == {"sent": 1}
    new = open_config(channel_row(setup, "linkedin-page").config["settings"], KEY)
    assert new["access_token"] != old["access_token"] and len(fake_li.posted()) == 1


def test_an_expired_token_without_refresh_holds_the_post_until_reconnected(
    tmp_path: Path, fake_li: FakeLinkedIn
) -> None:
    setup = _setup(tmp_path, fake_li)
    old = open_config(channel_row(setup, "linkedin-page").config["settings"], KEY)
    fake_li.expire_token(old["access_token"])
    assert send_due(setup) == {"pending": 1}
    assert channel_row(setup, "linkedin-page").status == "needs_reconnect"
    row = the_row(setup, "linkedin-page")
    assert row.state == "pending" and row.attempts == 0
    assert fake_li.posted() == []
