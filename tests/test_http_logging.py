"""Request lines logged by urllib3 never carry the credentials some platforms take in the URL."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from distributor.channels.telegram import Telegram
from distributor.domain import PostRendition
from tests.channels.posting import adapter, outgoing
from tests.peers.fakes.telegram import BOT_TOKEN, CHANNEL, FakeTelegram


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram() as server:
        yield server


def test_a_bot_token_in_the_url_is_redacted_from_debug_logs(
    fake: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    telegram = adapter(
        Telegram, {"bot_token": BOT_TOKEN, "chat_id": CHANNEL, "api_base": fake.api_base}
    )
    text = "A post https://ishr.ch/a"
    post = PostRendition(platform="telegram", text=text, length=len(text), limit=4096)
    with caplog.at_level(logging.DEBUG, logger="urllib3"):
        telegram.publish(outgoing(post), idempotency_key="k")
    request_lines = [r.getMessage() for r in caplog.records if "sendMessage" in r.getMessage()]
    assert request_lines, "urllib3 logged the request line"
    assert all(BOT_TOKEN not in line and "/bot[redacted]/" in line for line in request_lines)


@pytest.mark.parametrize(
    ("logged", "shown"),
    [
        ("GET /v21.0/me?fields=id&access_token=EAAB123 HTTP/1.1", "access_token=[redacted] HTTP"),
        ('"POST /bot123456:AA-bc_DEF/sendPhoto HTTP/1.1" 200', "/bot[redacted]/sendPhoto"),
        (
            "refresh_token=r-1&client_secret=s-2",
            "refresh_token=[redacted]&client_secret=[redacted]",
        ),
    ],
)
def test_url_credentials_are_redacted_whatever_logs_them(
    logged: str, shown: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="urllib3.connectionpool"):
        logging.getLogger("urllib3.connectionpool").debug("%s", logged)
    [record] = caplog.records
    assert shown in record.getMessage()
