"""A fake of X API v2 following reference/platform-apis.md §3.

- ``POST /2/tweets`` (201 ``{"data":{"id","text"}}``): unknown body fields are refused (the
  schema has ``additionalProperties: false``); text over 280 weighted units is refused;
  identical text from the same account → ``403`` with X's duplicate-content problem body;
  a reply must point at an existing post. URLs are stored as t.co links with the original in
  ``entities.urls[].expanded_url``, as X does.
- Rate limits per user: ``x-rate-limit-limit/-remaining/-reset`` (reset = epoch seconds) on
  every create answer; over the limit → ``429`` with ``{"errors":[{"code":88,…}]}`` and no
  ``Retry-After``. ``limit_posts(n, reset_in=…)`` sets the window.
- OAuth 2.0: bearer tokens with an expiry (``expire_token``); an unknown or expired token →
  ``401`` problem JSON. ``POST /2/oauth2/token`` (form) trades a refresh token, which is
  single use, for a new pair with ``expires_in`` 7200.
- ``POST /2/media/upload`` (multipart, ``media_category`` required) and
  ``POST /2/media/metadata`` (alt text ≤ 1000 characters).
- ``GET /2/users/me`` and ``GET /2/users/{id}/tweets`` (newest first, ``start_time``,
  ``max_results`` 5–100, ``pagination_token``).
"""

from __future__ import annotations

import itertools
import re
import secrets
import time
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tests.peers.fakes.server import FakeServer, Reply, Request, route

USER_ID = "1500000000000000001"
USERNAME = "ishr_news"
CLIENT_ID = "distributor-client"

_URL = re.compile(r"https?://[^\s]+", re.IGNORECASE)
# twitter-text v3: weight 100 for these code point ranges, 200 for everything else (scale 100).
_LIGHT = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))
_TWEET_FIELDS = {"text", "reply", "media", "quote_tweet_id", "poll", "reply_settings",
                 "for_super_followers_only", "geo", "direct_message_deep_link",
                 "nullcast", "card_uri", "community_id", "made_with_ai",
                 "paid_partnership", "share_with_followers", "edit_options"}  # fmt: skip


def weighted_length(text: str) -> int:
    """X's count (twitter-text v3, simplified: every URL 23, ranges above weigh 1, the rest 2;
    emoji sequences are not folded, which only matters near the limit)."""
    text = unicodedata.normalize("NFC", text)
    units = 23 * len(_URL.findall(text))
    for ch in _URL.sub("", text):
        code = ord(ch)
        units += 1 if any(lo <= code <= hi for lo, hi in _LIGHT) else 2
    return units


def problem(status: int, title: str, detail: str, type_: str = "about:blank") -> dict[str, Any]:
    return {"title": title, "detail": detail, "type": type_, "status": status}


@dataclass
class Tweet:
    id: str
    text: str
    author_id: str
    created_at: datetime
    urls: list[dict[str, str]] = field(default_factory=list)
    reply_to: str | None = None
    media_ids: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "text": self.text,
            "created_at": self.created_at.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "edit_history_tweet_ids": [self.id],
        }
        if self.urls:
            data["entities"] = {"urls": self.urls}
        return data


class FakeX(FakeServer):
    def __init__(self) -> None:
        super().__init__()
        self.tweets: list[Tweet] = []
        self.media: dict[str, dict[str, Any]] = {}
        self.access_tokens: dict[str, float] = {}  # token → expiry (epoch s)
        self.refresh_tokens: set[str] = set()
        self.window_limit = 100
        self.window_seconds = 900.0
        self.window_reset = time.time() + self.window_seconds
        self.window_used = 0
        self._ids = itertools.count(1_860_000_000_000_000_000)

    # -- what tests set up and read ------------------------------------------------------

    def issue_tokens(self, *, lifetime: float = 7200.0) -> tuple[str, str]:
        """A fresh access + refresh token pair, as the consent flow would hand out."""
        with self.lock:
            access, refresh = f"xa-{secrets.token_hex(8)}", f"xr-{secrets.token_hex(8)}"
            self.access_tokens[access] = time.time() + lifetime
            self.refresh_tokens.add(refresh)
            return access, refresh

    def expire_token(self, token: str) -> None:
        with self.lock:
            self.access_tokens[token] = 0.0

    def revoke_refresh_tokens(self) -> None:
        with self.lock:
            self.refresh_tokens.clear()

    def limit_posts(self, limit: int, *, used: int = 0, reset_in: float = 900.0) -> None:
        with self.lock:
            self.window_limit, self.window_used = limit, used
            self.window_reset = time.time() + reset_in

    def posted(self) -> list[Tweet]:
        with self.lock:
            return list(self.tweets)

    def seed_tweet(self, text: str, *, created_at: datetime | None = None) -> Tweet:
        """A post made earlier (by hand, or by another tool)."""
        with self.lock:
            tweet = self._store(text, created_at=created_at or datetime.now(UTC))
            return tweet

    # -- auth ---------------------------------------------------------------------------

    def _authorised(self, request: Request) -> Reply | None:
        header = request.headers.get("authorization", "")
        token = header.removeprefix("Bearer ").strip()
        with self.lock:
            expiry = self.access_tokens.get(token)
        if not header.startswith("Bearer ") or expiry is None or expiry < time.time():
            return Reply(401, problem(401, "Unauthorized", "Unauthorized"))
        return None

    @route("POST", "/2/oauth2/token")
    def token(self, request: Request) -> Reply:
        form = request.form()
        if form.get("grant_type") != "refresh_token" or form.get("client_id") != CLIENT_ID:
            return Reply(
                400,
                {"error": "invalid_request", "error_description": "Missing required parameter."},
            )
        with self.lock:
            if form.get("refresh_token") not in self.refresh_tokens:
                return Reply(
                    400,
                    {
                        "error": "invalid_request",
                        "error_description": "Value passed for the token was invalid.",
                    },
                )
            self.refresh_tokens.discard(form["refresh_token"])  # single use
        access, refresh = self.issue_tokens()
        return Reply(
            200,
            {
                "token_type": "bearer",
                "expires_in": 7200,
                "access_token": access,
                "scope": "tweet.write tweet.read users.read media.write offline.access",
                "refresh_token": refresh,
            },
        )

    # -- posts --------------------------------------------------------------------------

    def _rate_headers(self) -> dict[str, str]:
        now = time.time()
        if now >= self.window_reset:
            self.window_used = 0
            self.window_reset = now + self.window_seconds
        return {
            "x-rate-limit-limit": str(self.window_limit),
            "x-rate-limit-remaining": str(max(0, self.window_limit - self.window_used)),
            "x-rate-limit-reset": str(int(self.window_reset)),
        }

    def _store(self, text: str, *, created_at: datetime, reply_to: str | None = None) -> Tweet:
        urls: list[dict[str, str]] = []

        def shorten(match: re.Match[str]) -> str:
            short = f"https://t.co/{secrets.token_urlsafe(7)[:10]}"
            urls.append({"url": short, "expanded_url": match.group(0), "display_url": short[8:]})
            return short

        stored = _URL.sub(shorten, text)
        tweet = Tweet(str(next(self._ids)), stored, USER_ID, created_at, urls, reply_to)
        self.tweets.append(tweet)
        return tweet

    @route("POST", "/2/tweets")
    def create(self, request: Request) -> Reply:
        refused = self._authorised(request)
        if refused:
            return refused
        body = request.json()
        with self.lock:
            headers = self._rate_headers()
            if self.window_used >= self.window_limit:
                return Reply(429, {"errors": [{"code": 88, "message": "Rate limit exceeded"}]},
                             headers)  # fmt: skip
            invalid = self._invalid(body)
            if invalid:
                return Reply(400, invalid, headers)
            text = str(body["text"])
            if text and any(self._original_text(t) == text for t in self.tweets):
                return Reply(
                    403,
                    problem(
                        403,
                        "Forbidden",
                        "You are not allowed to create a Tweet with duplicate content.",
                    ),
                    headers,
                )
            reply_to = (body.get("reply") or {}).get("in_reply_to_tweet_id")
            if reply_to is not None and not any(t.id == reply_to for t in self.tweets):
                return Reply(
                    400,
                    {
                        "errors": [{"message": "The post you are replying to does not exist."}],
                        "title": "Invalid Request",
                        "detail": "One or more parameters to your request was invalid.",
                        "type": "https://api.twitter.com/2/problems/invalid-request",
                    },
                    headers,
                )
            tweet = self._store(text, created_at=datetime.now(UTC), reply_to=reply_to)
            tweet.media_ids = list((body.get("media") or {}).get("media_ids") or [])
            self.window_used += 1
            headers = {**headers, **self._rate_headers()}
            return Reply(201, {"data": {"id": tweet.id, "text": tweet.text}}, headers)

    def _original_text(self, tweet: Tweet) -> str:
        text = tweet.text
        for url in tweet.urls:
            text = text.replace(url["url"], url["expanded_url"], 1)
        return text

    def _invalid(self, body: Any) -> dict[str, Any] | None:
        def invalid(message: str) -> dict[str, Any]:
            return {
                "errors": [{"message": message}],
                "title": "Invalid Request",
                "detail": "One or more parameters to your request was invalid.",
                "type": "https://api.twitter.com/2/problems/invalid-request",
            }

        if not isinstance(body, dict):
            return invalid("The request body is not a JSON object")
        unknown = set(body) - _TWEET_FIELDS
        if unknown:
            return invalid(f"[{sorted(unknown)[0]}] is not a valid field")
        text = body.get("text")
        if not isinstance(text, str) and "media" not in body:
            return invalid("$.text: is missing but it is required")
        if isinstance(text, str) and weighted_length(text) > 280:
            return invalid("Your Tweet text is too long.")
        media_ids = (body.get("media") or {}).get("media_ids") or []
        if len(media_ids) > 4 or any(m not in self.media for m in media_ids):
            return invalid("Your media IDs are invalid.")
        return None

    # -- media --------------------------------------------------------------------------

    @route("POST", "/2/media/upload")
    def upload(self, request: Request) -> Reply:
        refused = self._authorised(request)
        if refused:
            return refused
        parts = request.multipart()
        category = parts.get("media_category", b"").decode()
        if "media" not in parts or category not in {"tweet_image", "tweet_gif", "tweet_video"}:
            return Reply(
                400, problem(400, "Invalid Request", "media and media_category are required")
            )
        if len(parts["media"]) > 5_000_000:
            return Reply(400, problem(400, "Invalid Request", "File size exceeds 5242880 bytes."))
        with self.lock:
            media_id = str(next(self._ids))
            self.media[media_id] = {"bytes": parts["media"], "category": category, "alt": None}
        return Reply(
            200,
            {
                "data": {
                    "id": media_id,
                    "media_key": f"3_{media_id}",
                    "size": len(parts["media"]),
                    "expires_after_secs": 86400,
                    "image": {"image_type": "image/png", "w": 1, "h": 1},
                }
            },
        )

    @route("POST", "/2/media/metadata")
    def metadata(self, request: Request) -> Reply:
        refused = self._authorised(request)
        if refused:
            return refused
        body = request.json() or {}
        alt = ((body.get("metadata") or {}).get("alt_text") or {}).get("text")
        with self.lock:
            if body.get("id") not in self.media or not isinstance(alt, str) or len(alt) > 1000:
                return Reply(400, problem(400, "Invalid Request", "invalid media id or alt text"))
            self.media[body["id"]]["alt"] = alt
        return Reply(
            200,
            {"data": {"id": body["id"], "associated_metadata": {"alt_text": {"text": alt}}}},
        )

    # -- reading ------------------------------------------------------------------------

    @route("GET", "/2/users/me")
    def me(self, request: Request) -> Reply:
        refused = self._authorised(request)
        if refused:
            return refused
        return Reply(200, {"data": {"id": USER_ID, "name": "ISHR", "username": USERNAME}})

    @route("GET", "/2/users/{user_id}/tweets")
    def timeline(self, request: Request, user_id: str) -> Reply:
        refused = self._authorised(request)
        if refused:
            return refused
        size = int(request.arg("max_results") or 10)
        if not 5 <= size <= 100:
            return Reply(400, problem(400, "Invalid Request", "max_results must be 5 to 100"))
        start = request.arg("start_time")
        since = datetime.fromisoformat(start.replace("Z", "+00:00")) if start else None
        with self.lock:
            mine = [t for t in reversed(self.tweets) if t.author_id == user_id]
        if "replies" in (request.arg("exclude") or ""):
            mine = [t for t in mine if t.reply_to is None]
        if since is not None:
            mine = [t for t in mine if t.created_at >= since]
        offset = int(request.arg("pagination_token") or 0)
        page = mine[offset : offset + size]
        meta: dict[str, Any] = {"result_count": len(page)}
        if page:
            meta["newest_id"], meta["oldest_id"] = page[0].id, page[-1].id
        if offset + size < len(mine):
            meta["next_token"] = str(offset + size)
        body: dict[str, Any] = {"meta": meta}
        if page:
            body["data"] = [t.as_json() for t in page]
        return Reply(200, body)

    def not_found(self, request: Request) -> Reply:
        return Reply(
            404,
            problem(404, "Not Found Error", f"Could not find {request.path}",
                    "https://api.twitter.com/2/problems/resource-not-found"),
        )  # fmt: skip
