"""A fake of LinkedIn's Posts and Images APIs following reference/platform-apis.md §4.

- Every ``/rest/`` call needs ``Authorization: Bearer``, ``LinkedIn-Version: YYYYMM`` (not older
  than ``oldest_version``) and ``X-Restli-Protocol-Version: 2.0.0``: 400 without them, 401
  for an unknown or expired token (``expire_token``).
- ``POST /rest/posts`` → 201, empty body, the URN in ``x-restli-id``. ``commentary`` is
  stored the way LinkedIn treats little text format: cut at the first *unescaped* reserved
  character (``\\ | { } @ [ ] ( ) < > # * _ ~``) that starts no element (``#hashtag`` is a
  HashtagElement), with escapes removed. The same commentary
  again → 422 ``DUPLICATE_POST`` naming the existing post's URN.
- A daily quota per member (``quota``); over it → 429 with no rate-limit headers.
- ``POST /rest/images?action=initializeUpload`` → an upload URL on this fake; ``PUT`` the
  bytes there; the image URN is then usable as an article thumbnail.
- ``GET /rest/posts?q=author&author=…`` (with ``X-RestLi-Method: FINDER``): newest first,
  ``start``/``count`` paging.
- ``POST /oauth/v2/accessToken`` trades a refresh token (approved partners) for a new token.
"""

from __future__ import annotations

import itertools
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import regex

from tests.peers.fakes.server import FakeServer, Reply, Request, route

ORG = "urn:li:organization:2414183"
RESERVED = set("\\|{}@[]()<>#*_~")
_VERSION = re.compile(r"^20\d{4}$")


# little text's HashtagElement, "#hashtag": a whole word of letters, marks and digits.
_HASHTAG = regex.compile(r"#(?=[\p{L}\p{M}\p{N}]*[\p{L}\p{M}])[\p{L}\p{M}\p{N}]+(?!\S)")


def little_text(commentary: str) -> str:
    """What LinkedIn keeps of a commentary: up to the first unescaped reserved character
    that starts no element (a hashtag is one), with the backslash escapes resolved."""
    kept: list[str] = []
    index = 0
    while index < len(commentary):
        ch = commentary[index]
        if ch == "\\":
            escaped = commentary[index + 1 : index + 2]
            if escaped in RESERVED and escaped:
                kept.append(escaped)
                index += 2
                continue
            break  # a lone backslash is itself unescaped
        if ch == "#" and (index == 0 or commentary[index - 1].isspace()):
            hashtag = _HASHTAG.match(commentary, index)
            if hashtag is not None:
                kept.append(hashtag.group())
                index = hashtag.end()
                continue
        if ch in RESERVED:
            break
        kept.append(ch)
        index += 1
    return "".join(kept)


def error(status: int, message: str, code: str | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"status": status, "message": message, **extra}
    if code:
        body["code"] = code
    return body


@dataclass
class Post:
    urn: str
    author: str
    commentary: str  # as LinkedIn kept it (after truncation)
    sent_commentary: str  # as the client sent it
    content: dict[str, Any] | None
    created_at_ms: int
    body: dict[str, Any] = field(default_factory=dict)


class FakeLinkedIn(FakeServer):
    def __init__(self, *, oldest_version: str = "202411") -> None:
        super().__init__()
        self.oldest_version = oldest_version
        self.posts: list[Post] = []
        self.tokens: dict[str, float] = {}
        self.refresh_tokens: set[str] = set()
        self.images: dict[str, bytes | None] = {}
        self.quota = 150
        self.used_today = 0
        self._ids = itertools.count(7_400_000_000_000_000_000)

    # -- test setup ---------------------------------------------------------------------

    def issue_token(self, *, lifetime: float = 60 * 86400) -> str:
        with self.lock:
            token = f"li-{secrets.token_hex(8)}"
            self.tokens[token] = time.time() + lifetime
            return token

    def issue_refresh_token(self) -> str:
        with self.lock:
            token = f"lr-{secrets.token_hex(8)}"
            self.refresh_tokens.add(token)
            return token

    def expire_token(self, token: str) -> None:
        with self.lock:
            self.tokens[token] = 0.0

    def posted(self) -> list[Post]:
        with self.lock:
            return list(self.posts)

    def seed_post(self, commentary: str, *, source: str | None = None, age: float = 0) -> Post:
        with self.lock:
            content = {"article": {"source": source, "title": "Earlier"}} if source else None
            return self._store(ORG, commentary, commentary, content, {}, age=age)

    # -- checks -------------------------------------------------------------------------

    def _refused(self, request: Request) -> Reply | None:
        header = request.headers.get("authorization", "")
        if not header.startswith("Bearer "):
            return Reply(401, error(401, "Empty oauth2 access token", serviceErrorCode=65600))
        version = request.headers.get("linkedin-version")
        if version is None:
            return Reply(
                400,
                error(400, "A version must be present. Please specify a version by adding the "
                      "LinkedIn-Version header.", "VERSION_MISSING"),
            )  # fmt: skip
        if not _VERSION.match(version) or version < self.oldest_version:
            return Reply(
                400,
                error(400, f"Requested version {version} is not active", "NONEXISTENT_VERSION"),
            )
        if request.headers.get("x-restli-protocol-version") != "2.0.0":
            return Reply(
                400, error(400, "X-Restli-Protocol-Version 2.0.0 is required", "ILLEGAL_ARGUMENT")
            )
        token = header.removeprefix("Bearer ").strip()
        with self.lock:
            expiry = self.tokens.get(token)
        if expiry is None:
            return Reply(401, error(401, "Invalid access token", serviceErrorCode=65600))
        if expiry < time.time():
            return Reply(
                401, error(401, "The token used in the request has expired", serviceErrorCode=65601)
            )
        return None

    # -- posts --------------------------------------------------------------------------

    def _store(
        self,
        author: str,
        sent: str,
        kept: str,
        content: dict[str, Any] | None,
        body: dict[str, Any],
        *,
        age: float = 0,
    ) -> Post:
        urn = f"urn:li:share:{next(self._ids)}"
        created = int((time.time() - age) * 1000)
        post = Post(urn, author, kept, sent, content, created, body)
        self.posts.append(post)
        return post

    @route("POST", "/rest/posts")
    def create(self, request: Request) -> Reply:
        refused = self._refused(request)
        if refused:
            return refused
        body = request.json()
        if not isinstance(body, dict):
            return Reply(400, error(400, "Request body must be a JSON object"))
        missing = [k for k in ("author", "lifecycleState", "visibility", "distribution")
                   if k not in body]  # fmt: skip
        if missing:
            return Reply(
                422,
                error(422, f"ERROR :: /{missing[0]} :: field is required but not found",
                      errorDetails={"inputErrors": [{"code": "FIELD_VALUE_REQUIRED"}]}),
            )  # fmt: skip
        thumbnail = ((body.get("content") or {}).get("article") or {}).get("thumbnail")
        with self.lock:
            if thumbnail is not None and self.images.get(thumbnail) is None:
                return Reply(
                    422, error(422, f"ERROR :: /content/article/thumbnail :: {thumbnail} unknown")
                )
            if self.used_today >= self.quota:
                return Reply(429, error(429, "Resource level throttle APPLICATION DAY limit for "
                                        "calls to this resource is reached."))  # fmt: skip
            sent = str(body.get("commentary") or "")
            kept = little_text(sent)
            for earlier in self.posts:
                if earlier.author == body["author"] and earlier.commentary == kept:
                    message = f"ERROR :: /commentary :: Content is a duplicate of {earlier.urn}"
                    return Reply(
                        422,
                        error(422, message,
                              errorDetails={"inputErrors": [{"code": "DUPLICATE_POST"}]}),
                    )  # fmt: skip
            post = self._store(body["author"], sent, kept, body.get("content"), body)
            self.used_today += 1
        return Reply(201, None, {"x-restli-id": post.urn})

    @route("GET", "/rest/posts")
    def by_author(self, request: Request) -> Reply:
        refused = self._refused(request)
        if refused:
            return refused
        if request.arg("q") != "author" or request.headers.get("x-restli-method") != "FINDER":
            return Reply(400, error(400, "finder q=author with X-RestLi-Method FINDER expected"))
        author = request.arg("author")
        start, count = int(request.arg("start") or 0), int(request.arg("count") or 10)
        with self.lock:
            mine = [p for p in reversed(self.posts) if p.author == author]
        page = mine[start : start + count]
        elements = [
            {
                "id": p.urn,
                "author": p.author,
                "commentary": p.commentary,
                "createdAt": p.created_at_ms,
                "lastModifiedAt": p.created_at_ms,
                "lifecycleState": "PUBLISHED",
                "visibility": "PUBLIC",
                **({"content": p.content} if p.content else {}),
            }
            for p in page
        ]
        return Reply(
            200,
            {"elements": elements, "paging": {"start": start, "count": count, "links": []}},
        )

    # -- images -------------------------------------------------------------------------

    @route("POST", "/rest/images")
    def initialize_upload(self, request: Request) -> Reply:
        refused = self._refused(request)
        if refused:
            return refused
        if request.arg("action") != "initializeUpload":
            return Reply(400, error(400, "action=initializeUpload expected"))
        owner = ((request.json() or {}).get("initializeUploadRequest") or {}).get("owner")
        if not isinstance(owner, str) or not owner.startswith("urn:li:"):
            return Reply(422, error(422, "ERROR :: /initializeUploadRequest/owner :: required"))
        with self.lock:
            image = f"urn:li:image:C4D{secrets.token_hex(6)}"
            self.images[image] = None
        return Reply(
            200,
            {
                "value": {
                    "uploadUrlExpiresAt": int(time.time() * 1000) + 3_600_000,
                    "uploadUrl": f"{self.url}/upload/{image}",
                    "image": image,
                }
            },
        )

    @route("PUT", "/upload/{image}")
    def upload(self, request: Request, image: str) -> Reply:
        if not request.headers.get("authorization", "").startswith("Bearer "):
            return Reply(401, error(401, "Empty oauth2 access token"))
        with self.lock:
            if image not in self.images:
                return Reply(404, error(404, "no such upload"))
            self.images[image] = request.body
        return Reply(201)

    # -- OAuth --------------------------------------------------------------------------

    @route("POST", "/oauth/v2/accessToken")
    def access_token(self, request: Request) -> Reply:
        form = request.form()
        with self.lock:
            valid = form.get("refresh_token") in self.refresh_tokens
        if form.get("grant_type") != "refresh_token" or not valid:
            return Reply(
                400,
                {
                    "error": "invalid_request",
                    "error_description": "The provided authorization grant or refresh token "
                    "is invalid, expired or revoked",
                },
            )
        token = self.issue_token()
        return Reply(
            200,
            {
                "access_token": token,
                "expires_in": 60 * 86400,
                "refresh_token": form["refresh_token"],
                "refresh_token_expires_in": 300 * 86400,
            },
        )

    def not_found(self, request: Request) -> Reply:
        return Reply(404, error(404, f"No virtual resource found: {request.path}", "NOT_FOUND"))
