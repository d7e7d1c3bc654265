"""Mastodon: one status per delivery, made idempotent by the server's ``Idempotency-Key``.

Mastodon remembers a key per account for one hour and answers a repeat with the original
status, so every retry of a delivery sends the same key. After an ambiguous outcome older
than that, ``lookup`` reads the account's recent statuses for the post's link instead.

A rendition's ``thread`` goes out as a reply chain: each reply's ``in_reply_to_id`` is the
previous status, and each part has its own key derived from the delivery's (``part_key``),
so a repeated request for any part returns that part. The parts Mastodon confirmed are kept
in the channel state (``ThreadProgress``) and a retry resumes after them; the receipt is the
first status. After an ambiguous outcome ``lookup`` finds the first status, then follows its
replies (``/context``) part by part: a complete thread is the receipt; an incomplete one is
"not out yet" (``None``), so the ledger sends again and the retry posts only the missing
parts. A reply Mastodon refused for good (a 422, say) leaves the row ``unknown`` with the
reason, for a person: the first post is live, so the delivery can neither fail nor count as
whole.

Rate-limit resets come as ISO-8601 timestamps from real servers and as epoch seconds from
mastodon-mock; ``seconds_until_reset`` accepts both.
"""

from __future__ import annotations

import html
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import requests
from pydantic import BaseModel, SecretStr

from distributor.channels.base import (
    AuthExpired,
    Channel,
    ChannelError,
    Outgoing,
    Receipt,
    StateStore,
)
from distributor.channels.progress import ThreadProgress, incomplete
from distributor.channels.transport import call, json_object
from distributor.domain import PostRendition

# Without a hint from the server, wait about as long as a short outage lasts.
_DEFAULT_RETRY_AFTER = 60.0
# A status created before the delivery existed cannot be this delivery's post; the margin
# absorbs clock skew between us and the instance.
_CLOCK_SKEW = timedelta(minutes=5)
_LOOKUP_PAGES = 5
_BREAK = re.compile(r"<br\s*/?>|</p>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")
_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp"}


def seconds_until_reset(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds from ``now`` until a rate-limit reset given as ISO-8601 or as epoch seconds."""
    if not value:
        return None
    value = value.strip()
    current = now or datetime.now(UTC)
    try:
        reset = datetime.fromtimestamp(float(value), UTC)
    except ValueError:
        try:
            reset = datetime.fromisoformat(value)
        except ValueError:
            return None
        if reset.tzinfo is None:
            reset = reset.replace(tzinfo=UTC)
    return max(0.0, (reset - current).total_seconds())


def _retry_after(response: requests.Response) -> float:
    reset = seconds_until_reset(response.headers.get("X-RateLimit-Reset"))
    if reset is not None:
        return reset
    try:
        return float(response.headers.get("Retry-After", ""))
    except ValueError:
        return _DEFAULT_RETRY_AFTER


def _error_text(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("error"):
        return f"HTTP {response.status_code}: {body['error']}"
    return f"HTTP {response.status_code}: {response.reason or 'no reason given'}"


def part_key(idempotency_key: str, number: int) -> str:
    """The ``Idempotency-Key`` of part ``number`` of a delivery's thread: the delivery's own key
    for the first post (as for a post without replies), a derived one for each reply."""
    return idempotency_key if number == 1 else f"{idempotency_key}:part-{number}"


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _plain(content: str) -> str:
    # Tags go without a trace: Mastodon splits long link labels and hashtags into spans.
    text = _TAG.sub("", _BREAK.sub(" ", content))
    return _SPACE.sub(" ", html.unescape(text)).strip()


class Mastodon(Channel):
    """Posts to one Mastodon account with a user token (scopes write:statuses, write:media)."""

    kind: ClassVar[str] = "mastodon"
    posts_threads: ClassVar[bool] = True
    max_chars: ClassVar[int] = 500
    max_media: ClassVar[int] = 4
    rate_per_minute: ClassVar[int] = 30
    # Real servers process images synchronously since 4.0; video can take longer than we wait.
    media_poll_interval: ClassVar[float] = 0.5
    media_poll_attempts: ClassVar[int] = 20

    class Config(BaseModel):
        base_url: str
        access_token: SecretStr
        visibility: str = "public"
        language: str | None = None

    def __init__(self, config: BaseModel, http: requests.Session, state: StateStore) -> None:
        if not isinstance(config, Mastodon.Config):
            raise TypeError("Mastodon needs a Mastodon.Config")
        super().__init__(config, http, state)
        self.settings: Mastodon.Config = config
        self.base_url = config.base_url.rstrip("/")
        self.progress = ThreadProgress(state)

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.settings.access_token.get_secret_value()}"}

    def _raise_for(self, response: requests.Response, *, after_send: bool) -> None:
        """Translate a non-2xx answer; ``after_send`` marks calls whose effect may have happened."""
        status = response.status_code
        if status == 429:
            raise ChannelError(
                _error_text(response), retry_after=_retry_after(response), rate_limited=True
            )
        if status in (401, 403):
            raise AuthExpired(_error_text(response))
        if status >= 500:
            raise ChannelError(
                _error_text(response), retry_after=_DEFAULT_RETRY_AFTER, ambiguous=after_send
            )
        raise ChannelError(_error_text(response), permanent=True)

    def _call(
        self, method: str, path: str, *, after_send: bool = False, **kwargs: Any
    ) -> requests.Response:
        headers = {**self._headers(), **kwargs.pop("headers", {})}
        response = call(
            self.http,
            method,
            self.base_url + path,
            target=self.base_url,
            after_send=after_send,
            headers=headers,
            **kwargs,
        )
        if not 200 <= response.status_code < 300:
            self._raise_for(response, after_send=after_send)
        return response

    def _json(self, response: requests.Response, *, after_send: bool = False) -> dict[str, Any]:
        return json_object(response, platform=self.base_url, after_send=after_send)

    def _upload(self, message: Outgoing) -> str:
        assert message.image_bytes is not None
        mime = message.image_mime or "application/octet-stream"
        filename = f"image.{_EXTENSIONS.get(mime, 'bin')}"
        data: dict[str, str] = {}
        image = message.post.image
        if image is not None and image.alt:
            data["description"] = image.alt
        files = {"file": (filename, message.image_bytes, mime)}
        response = self._call("POST", "/api/v2/media", files=files, data=data)
        media = self._json(response)
        media_id = str(media["id"])
        if response.status_code == 202 or media.get("url") is None:
            self._wait_for_media(media_id)
        return media_id

    def _wait_for_media(self, media_id: str) -> None:
        for _ in range(self.media_poll_attempts):
            time.sleep(self.media_poll_interval)
            response = self._call("GET", f"/api/v1/media/{media_id}")
            if response.status_code == 200 and self._json(response).get("url"):
                return
        raise ChannelError(f"media {media_id} is still processing", retry_after=30)

    def publish(self, message: Outgoing, *, idempotency_key: str) -> Receipt:
        parts = [message.post.text, *message.post.thread]

        def create(index: int, done: list[dict[str, Any]]) -> dict[str, Any]:
            status = self._create(message, parts[index], index, done, idempotency_key)
            return {"id": str(status["id"]), "url": status.get("url") or status.get("uri")}

        done = self.progress.publish(idempotency_key, parts, create, live=_describe)
        return Receipt(remote_id=done[0]["id"], url=done[0].get("url"))

    def _create(
        self,
        message: Outgoing,
        text: str,
        index: int,
        done: list[dict[str, Any]],
        idempotency_key: str,
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {"status": text, "visibility": self.settings.visibility}
        if self.settings.language:
            payload["language"] = self.settings.language
        if index == 0 and message.image_bytes:
            payload["media_ids"] = [self._upload(message)]
        if index > 0:
            payload["in_reply_to_id"] = done[-1]["id"]
        response = self._call(
            "POST",
            "/api/v1/statuses",
            json=payload,
            headers={"Idempotency-Key": part_key(idempotency_key, index + 1)},
            after_send=True,
        )
        return self._json(response, after_send=True)

    def _account(self) -> dict[str, Any]:
        return self._json(self._call("GET", "/api/v1/accounts/verify_credentials"))

    def lookup(self, message: Outgoing, *, idempotency_key: str) -> Receipt | None:
        """The first status once the whole thread is out. ``None`` when the first status surely
        is not there, and also when replies are missing: the ledger then sends again, and the
        retry resumes after the parts found here (now remembered), never repeating one."""
        post = message.post
        parts = [post.text, *post.thread]
        done = self.progress.parts(idempotency_key) if post.thread else []
        account_id = str(self._account()["id"])
        if not done:
            first = self._find_first(message, account_id)
            if first is None:
                return None
            done = [first]
        if len(done) < len(parts):
            done = self._follow_replies(done, parts, account_id)
            self.progress.save(
                idempotency_key, done, refused=self.progress.refusal(idempotency_key)
            )
        if len(done) == len(parts):
            return Receipt(remote_id=done[0]["id"], url=done[0].get("url"))
        refused = self.progress.refusal(idempotency_key)
        if refused:
            raise incomplete(_describe(done[0]), len(done), len(parts), refused)
        return None

    def _find_first(self, message: Outgoing, account_id: str) -> dict[str, Any] | None:
        """The delivery's first status among the account's own since the delivery was made."""
        since = _aware(message.created_at) - _CLOCK_SKEW
        params: dict[str, str | int] = {"limit": 40}
        for _ in range(_LOOKUP_PAGES):
            response = self._call("GET", f"/api/v1/accounts/{account_id}/statuses", params=params)
            statuses = response.json()
            if not isinstance(statuses, list):
                raise ChannelError("the account's statuses are not a JSON list", retry_after=30)
            for status in statuses:
                too_old = _aware(datetime.fromisoformat(str(status["created_at"]))) < since
                if too_old:
                    return None
                # A reply of the thread may carry the link too; the post itself replies to none.
                if status.get("in_reply_to_id") is None and _is_post(status, message.post):
                    return {"id": str(status["id"]), "url": status.get("url")}
            if len(statuses) < 40:
                return None
            params = {"limit": 40, "max_id": str(statuses[-1]["id"])}
        raise ChannelError(
            "too many statuses since the delivery was created to tell whether it landed",
            retry_after=_DEFAULT_RETRY_AFTER,
        )

    def _follow_replies(
        self, done: list[dict[str, Any]], parts: list[str], account_id: str
    ) -> list[dict[str, Any]]:
        """``done`` extended by the replies found under the first status: each the account's own
        reply to the previous part, with that part's text."""
        response = self._call("GET", f"/api/v1/statuses/{done[0]['id']}/context")
        descendants = self._json(response).get("descendants")
        if not isinstance(descendants, list):
            raise ChannelError("the thread's context has no list of replies", retry_after=30)
        found = list(done)
        while len(found) < len(parts):
            wanted = _SPACE.sub(" ", parts[len(found)]).strip()
            reply = next(
                (
                    s
                    for s in descendants
                    if isinstance(s, dict)
                    and str(s.get("in_reply_to_id")) == found[-1]["id"]
                    and str((s.get("account") or {}).get("id")) == account_id
                    and wanted in (_plain(str(s.get("content") or "")), _text_of(s))
                ),
                None,
            )
            if reply is None:
                break
            found.append({"id": str(reply["id"]), "url": reply.get("url")})
        return found

    def check(self) -> str:
        account = self._account()
        return f"@{account.get('acct') or account.get('username')} on {self.base_url}"


def _describe(part: dict[str, Any]) -> str:
    return f"status {part['id']} ({part.get('url') or 'no URL'})"


def _text_of(status: dict[str, Any]) -> str:
    # ``text`` (the source) comes back only for some calls; content is always there.
    return _SPACE.sub(" ", str(status.get("text") or "")).strip()


def _is_post(status: dict[str, Any], post: PostRendition) -> bool:
    content = html.unescape(str(status.get("content") or ""))
    if post.link:
        # The link survives linkification in full inside href, even when the label is shortened.
        return post.link in content or post.link in str(status.get("text") or "")
    return _plain(content) == _SPACE.sub(" ", post.text).strip()
