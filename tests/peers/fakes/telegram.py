"""A fake of the Telegram Bot API for one bot administering one channel
(reference/platform-apis.md §7, https://core.telegram.org/bots/api).

What it holds to: methods at ``/bot<token>/<method>`` taking JSON, form or multipart; answers
``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code", "description"}`` with the
same HTTP status; flood control as 429 with ``parameters.retry_after``; 401 for a revoked
token, 403 when the bot may not post in the channel; HTML parse mode parsed strictly (only
the documented tags, only ``&lt; &gt; &amp; &quot;`` and numeric entities, so unescaped
article text fails as it does on Telegram); text 1–4096 and captions up to 1024 characters
after entity parsing (counted in UTF-16 code units); entity offsets in UTF-16 code units.
"""

from __future__ import annotations

import html
import itertools
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

from tests.peers.fakes.server import FakeServer, Reply, Request, route

BOT_TOKEN = "7234567890:AAHfakeBotTokenForTests_0123456789"
BOT_USERNAME = "ishr_news_bot"
CHANNEL = "@ishr_news"
CHANNEL_ID = -1001234567890

_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
}
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[a-zA-Z-]+=\"[^\"]*\")*)\s*>")
_ENTITY = re.compile(r"&(lt|gt|amp|quot|#[0-9]+|#x[0-9a-fA-F]+);")
_ATTRIBUTE = re.compile(r"([a-zA-Z-]+)=\"([^\"]*)\"")


class EntityError(ValueError):
    pass


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def parse_html(markup: str) -> tuple[str, list[dict[str, Any]]]:
    """Telegram's HTML parse mode: the plain text and its entities (UTF-16 offsets)."""
    text: list[str] = []
    length = 0
    entities: list[dict[str, Any]] = []
    open_tags: list[tuple[str, int, dict[str, str]]] = []
    position = 0
    while position < len(markup):
        char = markup[position]
        if char == "<":
            match = _TAG.match(markup, position)
            if match is None or match.group(2).lower() not in _TAGS:
                raise EntityError(
                    f"Can't parse entities: Unsupported start tag at byte offset "
                    f"{len(markup[:position].encode())}"
                )
            closing, name = match.group(1) == "/", match.group(2).lower()
            if closing:
                if not open_tags or open_tags[-1][0] != name:
                    raise EntityError(f"Can't parse entities: Unmatched end tag {name}")
                _, start, attributes = open_tags.pop()
                entity: dict[str, Any] = {
                    "type": _TAGS[name],
                    "offset": start,
                    "length": length - start,
                }
                if name == "a":
                    entity["url"] = attributes.get("href", "")
                entities.append(entity)
            else:
                open_tags.append((name, length, dict(_ATTRIBUTE.findall(match.group(3)))))
            position = match.end()
        elif char == "&":
            match = _ENTITY.match(markup, position)
            if match is None:
                raise EntityError(
                    "Can't parse entities: Can't find end of the entity starting at byte "
                    f"offset {len(markup[:position].encode())}"
                )
            decoded = html.unescape(match.group())
            text.append(decoded)
            length += utf16_length(decoded)
            position = match.end()
        elif char == ">":
            raise EntityError("Can't parse entities: Unexpected end tag character '>'")
        else:
            text.append(char)
            length += utf16_length(char)
            position += 1
    if open_tags:
        raise EntityError(f"Can't parse entities: Can't find end tag for {open_tags[-1][0]}")
    return "".join(text), sorted(entities, key=lambda e: int(e["offset"]))


@dataclass
class ChannelPost:
    message_id: int
    date: int
    text: str
    entities: list[dict[str, Any]]
    photo: bytes | None = None
    link_preview_options: dict[str, Any] | None = None
    disable_notification: bool = False
    raw: dict[str, Any] = field(default_factory=dict)


class FakeTelegram(FakeServer):
    """One bot, administrator of one channel; ``posts`` in the order they were sent."""

    def __init__(self) -> None:
        super().__init__()
        self.token = BOT_TOKEN
        self.posts: list[ChannelPost] = []
        self.bot_is_admin = True
        self._revoked = False
        self._ids = itertools.count(101)

    @property
    def api_base(self) -> str:
        return self.url

    # -- test controls --------------------------------------------------------------------

    def revoke_token(self) -> None:
        with self.lock:
            self._revoked = True

    def remove_bot_from_channel(self) -> None:
        with self.lock:
            self.bot_is_admin = False

    def flood(self, *, retry_after: int, method: str = "sendMessage") -> None:
        self.fail(
            429,
            {
                "ok": False,
                "error_code": 429,
                "description": f"Too Many Requests: retry after {retry_after}",
                "parameters": {"retry_after": retry_after},
            },
            method="POST",
            path=f"/bot{re.escape(BOT_TOKEN)}/{method}",
        )

    # -- Bot API --------------------------------------------------------------------------

    @route("POST", "/bot{token}/getMe")
    def get_me(self, request: Request, token: str) -> Reply:
        refused = self._refuse(token)
        if refused:
            return refused
        return _ok(
            {
                "id": int(BOT_TOKEN.split(":")[0]),
                "is_bot": True,
                "first_name": "ISHR News",
                "username": BOT_USERNAME,
            }
        )

    @route("POST", "/bot{token}/getChat")
    def get_chat(self, request: Request, token: str) -> Reply:
        refused = self._refuse(token) or self._refuse_chat(_params(request))
        if refused:
            return refused
        return _ok({**_chat(), "title": "ISHR News"})

    @route("POST", "/bot{token}/sendMessage")
    def send_message(self, request: Request, token: str) -> Reply:
        params = _params(request)
        refused = self._refuse(token) or self._refuse_chat(params)
        if refused:
            return refused
        raw_text = str(params.get("text") or "")
        try:
            text, entities = _parse(raw_text, params.get("parse_mode"))
        except EntityError as error:
            return _bad(f"Bad Request: {error}")
        if not text.strip():
            return _bad("Bad Request: message text is empty")
        if utf16_length(text) > 4096:
            return _bad("Bad Request: message is too long")
        preview = params.get("link_preview_options")
        if isinstance(preview, str):
            preview = json.loads(preview)
        return self._store(
            ChannelPost(
                next(self._ids),
                int(time.time()),
                text,
                entities,
                link_preview_options=preview,
                disable_notification=_flag(params.get("disable_notification")),
                raw=params,
            )
        )

    @route("POST", "/bot{token}/sendPhoto")
    def send_photo(self, request: Request, token: str) -> Reply:
        multipart = "multipart" in request.headers.get("content-type", "")
        parts = request.multipart() if multipart else {}
        params: dict[str, Any] = {k: v.decode("utf-8") for k, v in parts.items() if k != "photo"}
        if not multipart:
            params = _params(request)
        refused = self._refuse(token) or self._refuse_chat(params)
        if refused:
            return refused
        photo = parts.get("photo")
        if not photo:
            return _bad("Bad Request: there is no photo in the request")
        try:
            caption, entities = _parse(str(params.get("caption") or ""), params.get("parse_mode"))
        except EntityError as error:
            return _bad(f"Bad Request: {error}")
        if utf16_length(caption) > 1024:
            return _bad("Bad Request: message caption is too long")
        return self._store(
            ChannelPost(
                next(self._ids),
                int(time.time()),
                caption,
                entities,
                photo=photo,
                disable_notification=_flag(params.get("disable_notification")),
                raw=params,
            )
        )

    def not_found(self, request: Request) -> Reply:
        return Reply(404, {"ok": False, "error_code": 404, "description": "Not Found"})

    # -- helpers --------------------------------------------------------------------------

    def _store(self, post: ChannelPost) -> Reply:
        with self.lock:
            self.posts.append(post)
        result: dict[str, Any] = {"message_id": post.message_id, "date": post.date, "chat": _chat()}
        if post.photo is not None:
            result["photo"] = [{"file_id": f"AgAC{post.message_id}", "width": 320, "height": 240}]
            if post.text:
                result["caption"] = post.text
                result["caption_entities"] = post.entities
        else:
            result["text"] = post.text
            if post.entities:
                result["entities"] = post.entities
        return _ok(result)

    def _refuse(self, token: str) -> Reply | None:
        with self.lock:
            if token != self.token or self._revoked:
                return Reply(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
        return None

    def _refuse_chat(self, params: dict[str, Any]) -> Reply | None:
        chat_id = str(params.get("chat_id") or "")
        if not chat_id:
            return _bad("Bad Request: chat_id is empty")
        if chat_id not in (CHANNEL, str(CHANNEL_ID)):
            return _bad("Bad Request: chat not found")
        with self.lock:
            if not self.bot_is_admin:
                return Reply(
                    403,
                    {
                        "ok": False,
                        "error_code": 403,
                        "description": "Forbidden: bot is not a member of the channel chat",
                    },
                )
        return None


def _parse(text: str, parse_mode: Any) -> tuple[str, list[dict[str, Any]]]:
    if parse_mode == "HTML":
        return parse_html(text)
    if parse_mode:
        raise EntityError(f"Unsupported parse_mode {parse_mode}")
    return text, []


def _params(request: Request) -> dict[str, Any]:
    content_type = request.headers.get("content-type", "")
    if "json" in content_type:
        body = request.json()
        return body if isinstance(body, dict) else {}
    if "x-www-form-urlencoded" in content_type:
        return dict(request.form())
    return {k: v[-1] for k, v in request.query.items()}


def _flag(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def _chat() -> dict[str, Any]:
    return {"id": CHANNEL_ID, "type": "channel", "username": CHANNEL.lstrip("@")}


def _ok(result: Any) -> Reply:
    return Reply(200, {"ok": True, "result": result})


def _bad(description: str) -> Reply:
    return Reply(400, {"ok": False, "error_code": 400, "description": description})
