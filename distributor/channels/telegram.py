"""Telegram: one channel post per delivery, sent by a bot that administers the channel.

Text goes out in HTML parse mode, escaped with ``telegram_html`` (only ``<``, ``>`` and ``&``
need it), so what the comms team approved is what readers see; URLs stay plain text, which
Telegram links itself, and the article link is named as the link preview.

A rendition with an image becomes a photo with the text as its caption when the caption fits
(1,024 characters after entity parsing, counted here in UTF-16 code units, which is never less
than Telegram's count). A longer text is sent as one message whose link preview shows the
article (``prefer_large_media``), rather than a photo followed by a second message: one call,
one message id, and no half-sent post to reconcile when the second call fails.

Telegram's flood control answers 429 with ``parameters.retry_after`` in the body; that is the
retry time. 401 (token revoked) and 403 (bot removed from the channel or no longer allowed to
post) need a person: the channel needs reconnecting. A 5xx after ``sendMessage`` may hide a
sent message, so it is ambiguous like a timeout.

There is deliberately no ``lookup``: the Bot API offers no way to read a channel's history
(no ``getChatHistory``; ``getUpdates`` never returns the bot's own posts and competes with
any webhook), and probing message ids with ``forwardMessage`` would post somewhere. The
contract's default (``ChannelError``: cannot tell) keeps Telegram out of automatic
reconciliation, so after an ambiguous outcome the delivery stays ``unknown`` until a person
has checked the channel: better than a duplicate post.

The bot token is part of every URL, so every error message is scrubbed of it.
"""

from __future__ import annotations

from typing import Any, ClassVar, NoReturn

import requests
from pydantic import BaseModel, Field, SecretStr

from distributor.channels.base import (
    AuthExpired,
    Channel,
    ChannelError,
    Outgoing,
    RateLimit,
    Receipt,
    StateStore,
)
from distributor.channels.transport import call, redact
from distributor.rendering.escaping import telegram_html

CAPTION_LIMIT = 1024
_DEFAULT_RETRY_AFTER = 30.0
_SERVER_RETRY_AFTER = 60.0
_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp"}


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class Telegram(Channel):
    """Posts to one Telegram channel as a bot administrator with "post messages" right."""

    kind: ClassVar[str] = "telegram"
    # Published guidance: 20 messages a minute into one group or channel and about one a
    # second per chat. A bucket of one token refilled every 3 s keeps both (a bucket of 20
    # would allow a burst of 20 in one second); flood control says the rest via retry_after.
    rate_limit: ClassVar[RateLimit | None] = RateLimit(requests=1, per_seconds=3)

    class Config(BaseModel):
        bot_token: SecretStr
        # "@channelusername" or the numeric id ("-100…") of a private channel.
        chat_id: str = Field(pattern=r"^(@[A-Za-z][A-Za-z0-9_]{3,}|-?[0-9]+)$")
        api_base: str = "https://api.telegram.org"
        disable_notification: bool = False

    def __init__(self, config: BaseModel, http: requests.Session, state: StateStore) -> None:
        if not isinstance(config, Telegram.Config):
            raise TypeError(f"Telegram needs a Telegram.Config, not {type(config).__name__}")
        super().__init__(config, http, state)
        self.settings = config

    # -- the contract ---------------------------------------------------------------------

    def publish(self, message: Outgoing, *, idempotency_key: str) -> Receipt:
        post = message.post
        if post.thread:
            raise ChannelError(
                f"Telegram channel posts have no thread replies; the rendition carries "
                f"{len(post.thread)}",
                permanent=True,
            )
        if (
            message.image_bytes
            and post.image is not None
            and utf16_length(post.text) <= CAPTION_LIMIT
        ):
            result = self._send_photo(message)
        else:
            result = self._send_message(message)
        message_id = result.get("message_id")
        if not isinstance(message_id, int):
            raise ChannelError(
                "Telegram answered without a message id", permanent=True, ambiguous=True
            )
        chat = result.get("chat") if isinstance(result.get("chat"), dict) else {}
        return Receipt(remote_id=str(message_id), url=_message_url(chat or {}, message_id))

    def check(self) -> str:
        me = self._call("getMe", json={})
        chat = self._call("getChat", json={"chat_id": self.settings.chat_id})
        name = chat.get("title") or chat.get("username") or self.settings.chat_id
        return f"@{me.get('username')} posting to {name}"

    # -- sending --------------------------------------------------------------------------

    def _send_message(self, message: Outgoing) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "chat_id": self.settings.chat_id,
            "text": telegram_html(message.post.text),
            "parse_mode": "HTML",
            "disable_notification": self.settings.disable_notification,
        }
        if message.post.link:
            payload["link_preview_options"] = {
                "url": message.post.link,
                "prefer_large_media": True,
            }
        return self._call("sendMessage", json=payload, send=True)

    def _send_photo(self, message: Outgoing) -> dict[str, Any]:
        assert message.image_bytes is not None
        mime = message.image_mime or "application/octet-stream"
        data = {
            "chat_id": self.settings.chat_id,
            "caption": telegram_html(message.post.text),
            "parse_mode": "HTML",
            "disable_notification": "true" if self.settings.disable_notification else "false",
        }
        files = {"photo": (f"photo.{_EXTENSIONS.get(mime, 'bin')}", message.image_bytes, mime)}
        return self._call("sendPhoto", data=data, files=files, send=True)

    # -- Bot API calls --------------------------------------------------------------------

    def _call(self, method: str, *, send: bool = False, **kwargs: Any) -> dict[str, Any]:
        token = self.settings.bot_token.get_secret_value()
        url = f"{self.settings.api_base.rstrip('/')}/bot{token}/{method}"
        response = call(
            self.http,
            "POST",
            url,
            target=f"Telegram {method}",
            after_send=send,
            secrets=[token],
            **kwargs,
        )
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise ChannelError(
                f"Telegram {method}: HTTP {response.status_code} without a JSON answer",
                retry_after=_SERVER_RETRY_AFTER,
                ambiguous=send and response.status_code >= 500,
            )
        if body.get("ok") is True and response.ok:
            result = body.get("result")
            return result if isinstance(result, dict) else {"value": result}
        self._raise_for(method, response.status_code, body, send=send, token=token)

    def _raise_for(
        self, method: str, status: int, body: dict[str, Any], *, send: bool, token: str
    ) -> NoReturn:
        reported = body.get("error_code")
        code: int = reported if isinstance(reported, int) else status
        description = redact(str(body.get("description") or "no description"), [token])
        text = f"Telegram {method}: {code} {description}"
        parameters = body.get("parameters") if isinstance(body.get("parameters"), dict) else {}
        retry_after = (parameters or {}).get("retry_after")
        if code == 429:
            wait = float(retry_after) if isinstance(retry_after, int | float) else None
            raise ChannelError(
                text,
                retry_after=wait if wait is not None else _DEFAULT_RETRY_AFTER,
                rate_limited=True,
            )
        if code in (401, 403):
            raise AuthExpired(text)
        migrated = (parameters or {}).get("migrate_to_chat_id")
        if migrated is not None:
            raise ChannelError(f"{text}; the chat is now {migrated}", permanent=True)
        if code >= 500:
            raise ChannelError(text, retry_after=_SERVER_RETRY_AFTER, ambiguous=send)
        raise ChannelError(text, permanent=True)


def _message_url(chat: dict[str, Any], message_id: int) -> str | None:
    username = chat.get("username")
    if isinstance(username, str) and username:
        return f"https://t.me/{username}/{message_id}"
    chat_id = str(chat.get("id") or "")
    if chat_id.startswith("-100"):
        # Private channels: the link opens for members only.
        return f"https://t.me/c/{chat_id[4:]}/{message_id}"
    return None
