"""A fake of the Threads API for one profile (reference/platform-apis.md §6).

What it holds to: posting is two steps, ``POST /v1.0/{user}/threads`` (a container, status
``IN_PROGRESS`` until it is ``FINISHED``) then ``POST /v1.0/{user}/threads_publish`` with
``creation_id``; ``GET /v1.0/{container}?fields=status,error_message`` shows the status;
text ≤ 500 characters with emoji counted as UTF-8 bytes; more than five unique links fail at
container creation with ``THREADS_API__LINK_LIMIT_EXCEEDED``; replies need ``reply_to_id`` of
a post the profile owns; 250 published posts per rolling 24 h, enforced at publish; long-lived
tokens refreshed with ``GET /refresh_access_token?grant_type=th_refresh_token`` only while
unexpired. Errors are Graph-style JSON with HTTP 400.

Not documented by Meta, so chosen here: the exact error code and subcode that carry
``THREADS_API__LINK_LIMIT_EXCEEDED`` (100 / 4279029), "not ready" at publish (24 / 4279009)
and the publishing cap (code 4 with ``X-Business-Use-Case-Usage``).
"""

from __future__ import annotations

import itertools
import json
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import regex

from tests.peers.fakes.graph import graph_error, graph_page
from tests.peers.fakes.server import FakeServer, Reply, Request, route

VERSION = "v1.0"
USER_ID = "17841400000000001"
USERNAME = "ishr_news"
TOKEN = "THAAfakeLongLivedToken0123456789"
LIFETIME = timedelta(days=60)
QUOTA = 250
_URL = regex.compile(r"(?:https?://|www\.)[^\s]+", regex.IGNORECASE)
_EMOJI = regex.compile(r"\p{Extended_Pictographic}")


@dataclass
class Container:
    id: str
    media_type: str
    text: str
    image_url: str | None
    alt_text: str | None
    reply_to_id: str | None
    polls_left: int
    status: str = "IN_PROGRESS"
    error_message: str | None = None


@dataclass
class Media:
    id: str
    text: str
    timestamp: datetime
    media_type: str
    image_url: str | None = None
    alt_text: str | None = None
    reply_to_id: str | None = None
    replies: list[str] = field(default_factory=list)

    @property
    def permalink(self) -> str:
        return f"https://www.threads.net/@{USERNAME}/post/C{self.id[-6:]}"

    def as_graph(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "text": self.text,
            "timestamp": self.timestamp.strftime("%Y-%m-%dT%H:%M:%S+0000"),
            "permalink": self.permalink,
            "media_type": "TEXT_POST" if self.media_type == "TEXT" else self.media_type,
        }


def threads_length(text: str) -> int:
    """Characters as Threads counts them: an emoji counts its UTF-8 bytes."""
    return sum(len(c.encode("utf-8")) if _EMOJI.match(c) else 1 for c in text)


class FakeThreads(FakeServer):
    """One profile; ``posts`` are the published media, newest first (replies included)."""

    def __init__(self, *, polls_until_ready: int = 0) -> None:
        super().__init__()
        self.token = TOKEN
        self.polls_until_ready = polls_until_ready
        self.containers: dict[str, Container] = {}
        self.posts: list[Media] = []
        self._tokens: dict[str, datetime] = {TOKEN: datetime.now(UTC) + LIFETIME}
        self._ids = itertools.count(18028000000000001)
        # Force the next containers into a final status instead of FINISHED.
        self._outcomes: list[tuple[str, str | None]] = []

    @property
    def api_base(self) -> str:
        return self.url

    # -- test controls --------------------------------------------------------------------

    def expire_token(self) -> None:
        with self.lock:
            self._tokens[self.token] = datetime.now(UTC) - timedelta(minutes=1)

    def next_container_ends(self, status: str, error_message: str | None = None) -> None:
        with self.lock:
            self._outcomes.append((status, error_message))

    def roots(self) -> list[Media]:
        return [p for p in self.posts if p.reply_to_id is None]

    def throttle(self, *, regain_minutes: int) -> None:
        self.fail(
            400,
            _error("Application request limit reached", code=4, type_="OAuthException"),
            headers={"X-Business-Use-Case-Usage": _usage(100, regain_minutes)},
            method="POST",
            path=f"/{VERSION}/{USER_ID}/threads_publish",
        )

    # -- tokens ---------------------------------------------------------------------------

    @route("GET", "/refresh_access_token")
    def refresh(self, request: Request) -> Reply:
        if request.arg("grant_type") != "th_refresh_token":
            return Reply(400, _error("Invalid grant_type", code=100))
        refused = self._refuse(request.params())
        if refused:
            return refused
        new = "THAA" + secrets.token_urlsafe(24)
        with self.lock:
            self._tokens[new] = datetime.now(UTC) + LIFETIME
        return Reply(
            200,
            {
                "access_token": new,
                "token_type": "bearer",
                "expires_in": int(LIFETIME.total_seconds()),
            },
        )

    # -- publishing -----------------------------------------------------------------------

    @route("POST", f"/{VERSION}/{{user_id}}/threads")
    def create_container(self, request: Request, user_id: str) -> Reply:
        params = request.params()
        refused = self._refuse(params, user_id)
        if refused:
            return refused
        media_type = params.get("media_type", "")
        text = params.get("text", "")
        if media_type not in ("TEXT", "IMAGE"):
            return Reply(400, _error("Param media_type must be one of {TEXT, IMAGE}", code=100))
        if media_type == "TEXT" and not text:
            return Reply(400, _error("Param text is required for TEXT posts", code=100))
        if media_type == "IMAGE" and not params.get("image_url"):
            return Reply(400, _error("Param image_url is required for IMAGE posts", code=100))
        if threads_length(text) > 500:
            return Reply(400, _error("Param text must be at most 500 characters long.", code=100))
        links = {u.rstrip(".,;:!?)/") for u in _URL.findall(text)}
        if len(links) > 5:
            return Reply(
                400,
                _error(
                    "THREADS_API__LINK_LIMIT_EXCEEDED",
                    code=100,
                    subcode=4279029,
                    user_msg="Posts can't have more than 5 links.",
                ),
            )
        reply_to = params.get("reply_to_id")
        with self.lock:
            if reply_to and not any(p.id == reply_to for p in self.posts):
                return Reply(400, _error("The reply target does not exist", code=100))
            container = Container(
                id=str(next(self._ids)),
                media_type=media_type,
                text=text,
                image_url=params.get("image_url"),
                alt_text=params.get("alt_text"),
                reply_to_id=reply_to,
                polls_left=self.polls_until_ready,
            )
            if self._outcomes:
                container.status, container.error_message = self._outcomes.pop(0)
            elif container.polls_left <= 0:
                container.status = "FINISHED"
            self.containers[container.id] = container
        return Reply(200, {"id": container.id})

    @route("POST", f"/{VERSION}/{{user_id}}/threads_publish")
    def publish(self, request: Request, user_id: str) -> Reply:
        params = request.params()
        refused = self._refuse(params, user_id)
        if refused:
            return refused
        with self.lock:
            container = self.containers.get(params.get("creation_id", ""))
            if container is None:
                return Reply(400, _error("The requested resource does not exist", code=24))
            if container.status != "FINISHED":
                return Reply(
                    400,
                    _error(
                        "The media is not ready for publishing, please wait for a moment",
                        code=24,
                        subcode=4279009,
                    ),
                )
            day_ago = datetime.now(UTC) - timedelta(hours=24)
            if sum(p.timestamp > day_ago for p in self.posts) >= QUOTA:
                return Reply(
                    400,
                    _error("Application request limit reached", code=4),
                    {"X-Business-Use-Case-Usage": _usage(100, 60)},
                )
            media = Media(
                id=str(next(self._ids)),
                text=container.text,
                timestamp=datetime.now(UTC),
                media_type=container.media_type,
                image_url=container.image_url,
                alt_text=container.alt_text,
                reply_to_id=container.reply_to_id,
            )
            container.status = "PUBLISHED"
            self.posts.insert(0, media)
        return Reply(200, {"id": media.id})

    # -- reading --------------------------------------------------------------------------

    @route("GET", f"/{VERSION}/{{user_id}}/threads")
    def list_threads(self, request: Request, user_id: str) -> Reply:
        params = request.params()
        refused = self._refuse(params, user_id)
        if refused:
            return refused
        with self.lock:
            roots = self.roots()
        return Reply(
            200, graph_page(roots, params, created=lambda p: p.timestamp, as_graph=Media.as_graph)
        )

    @route("GET", f"/{VERSION}/me")
    def me(self, request: Request) -> Reply:
        refused = self._refuse(request.params())
        if refused:
            return refused
        return Reply(200, {"id": USER_ID, "username": USERNAME})

    @route("GET", f"/{VERSION}/{{object_id}}")
    def read(self, request: Request, object_id: str) -> Reply:
        refused = self._refuse(request.params())
        if refused:
            return refused
        with self.lock:
            container = self.containers.get(object_id)
            if container is not None:
                if container.status == "IN_PROGRESS":
                    container.polls_left -= 1
                    if container.polls_left < 0:
                        container.status = "FINISHED"
                body: dict[str, Any] = {"id": container.id, "status": container.status}
                if container.error_message:
                    body["error_message"] = container.error_message
                return Reply(200, body)
            media = next((p for p in self.posts if p.id == object_id), None)
        if media is None:
            return Reply(
                400,
                _error(
                    f"Unsupported get request. Object with ID '{object_id}' does not exist",
                    code=100,
                    subcode=33,
                ),
            )
        return Reply(200, media.as_graph())

    def not_found(self, request: Request) -> Reply:
        return Reply(400, _error(f"Unknown path components: {request.path}", code=2500))

    # -- helpers --------------------------------------------------------------------------

    def _refuse(self, params: dict[str, str], user_id: str | None = None) -> Reply | None:
        token = params.get("access_token")
        if not token:
            return Reply(
                400, _error("An access token is required to request this resource.", code=104)
            )
        with self.lock:
            expires = self._tokens.get(token)
        if expires is None:
            return Reply(
                400, _error("Invalid OAuth access token - Cannot parse access token", code=190)
            )
        if expires <= datetime.now(UTC):
            return Reply(
                400,
                _error(
                    "Error validating access token: Session has expired.", code=190, subcode=463
                ),
            )
        if user_id is not None and user_id not in (USER_ID, "me"):
            return Reply(400, _error("Insufficient permission to access this profile", code=10))
        return None


def _usage(percent: int, regain_minutes: int) -> str:
    entry = {
        "type": "threads",
        "call_count": percent,
        "total_cputime": 1,
        "total_time": 1,
        "estimated_time_to_regain_access": regain_minutes,
    }
    return json.dumps({USER_ID: [entry]})


def _error(
    message: str,
    *,
    code: int,
    subcode: int | None = None,
    user_msg: str | None = None,
    type_: str = "THApiException",
) -> dict[str, Any]:
    # Token errors are OAuth errors on Threads too; the rest are Threads' own.
    type_ = "OAuthException" if code in (104, 190) else type_
    return graph_error(message, code=code, type_=type_, subcode=subcode, user_msg=user_msg)
