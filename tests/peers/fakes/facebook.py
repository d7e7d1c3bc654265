"""A fake of the Facebook Graph API for one Page (reference/platform-apis.md §5).

What it holds to: the token travels as ``access_token`` (query or form); failures are
``{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}`` with HTTP 400;
190 for a bad or expired token (subcode 463 = expired); 506 when a post repeats the Page's
previous post; throttling as error codes (80001 for a Page token) with the
``X-Business-Use-Case-Usage`` header carrying ``estimated_time_to_regain_access`` in minutes,
never as HTTP 429. Every answer carries the usage header, as Graph does once a Page is busy.
``/feed`` makes link posts (``{"id": "<page>_<post>"}``); ``/photos`` takes a multipart
``source`` with ``caption`` and ``alt_text_custom`` (``{"id", "post_id"}``).
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tests.peers.fakes.graph import graph_error, graph_page
from tests.peers.fakes.server import FakeServer, Reply, Request, route

VERSION = "v25.0"
PAGE_ID = "104729385016283"
PAGE_NAME = "ISHR News"
PAGE_TOKEN = "EAAGfakePageToken0123456789"


@dataclass
class FacebookPost:
    id: str
    message: str
    created_time: datetime
    link: str | None = None
    photo_id: str | None = None
    alt_text_custom: str | None = None
    image: bytes | None = None

    def as_graph(self) -> dict[str, Any]:
        page, _, story = self.id.partition("_")
        data: dict[str, Any] = {
            "id": self.id,
            "created_time": self.created_time.strftime("%Y-%m-%dT%H:%M:%S+0000"),
            "permalink_url": f"https://www.facebook.com/{page}/posts/{story}",
        }
        if self.message:
            data["message"] = self.message
        return data


@dataclass
class _Token:
    page_id: str
    expired: bool = False


class FakeFacebook(FakeServer):
    """One Page with one Page token; ``posts`` newest first."""

    def __init__(self, *, page_id: str = PAGE_ID, token: str = PAGE_TOKEN) -> None:
        super().__init__()
        self.page_id = page_id
        self.token = token
        self.posts: list[FacebookPost] = []
        self._tokens = {token: _Token(page_id)}
        self._ids = itertools.count(1000000000001)

    @property
    def api_base(self) -> str:
        return f"{self.url}/{VERSION}"

    # -- test controls --------------------------------------------------------------------

    def expire_token(self) -> None:
        with self.lock:
            self._tokens[self.token].expired = True

    def throttle(self, *, regain_minutes: int, code: int = 80001, path: str = ".*") -> None:
        """The next call is refused as Graph throttles a Page: an error code, not HTTP 429."""
        messages = {
            4: "(#4) Application request limit reached",
            17: "(#17) User request limit reached",
            32: "(#32) Page request limit reached",
            613: "(#613) Calls to this api have exceeded the rate limit.",
            80001: "(#80001) There have been too many calls to this Page account. Wait a bit "
            "and try again. For more info, please refer to "
            "https://developers.facebook.com/docs/graph-api/overview/rate-limiting.",
        }
        self.fail(
            400,
            graph_error(messages[code], code=code, subcode=2446079 if code == 80001 else None),
            headers={"X-Business-Use-Case-Usage": self._usage(100, regain_minutes)},
            path=path,
        )

    def policy_block(self, *, path: str = ".*") -> None:
        """The next call is refused by Facebook's abuse checks (code 368): a real failure."""
        self.fail(
            400,
            graph_error(
                "(#368) The action attempted has been deemed abusive or is otherwise disallowed",
                code=368,
            ),
            path=path,
        )

    def server_error(self, *, path: str = ".*", times: int = 1) -> None:
        self.fail(
            500,
            graph_error(
                "An unexpected error has occurred. Please retry your request later.", code=2
            ),
            path=path,
            times=times,
        )

    # -- Graph ----------------------------------------------------------------------------

    @route("POST", f"/{VERSION}/{{page_id}}/feed")
    def create_post(self, request: Request, page_id: str) -> Reply:
        params = request.params()
        refused = self._refuse(params, page_id)
        if refused:
            return refused
        message, link = params.get("message", ""), params.get("link")
        if not message and not link:
            return self._reply(400, graph_error("(#100) Missing message or attachment", code=100))
        with self.lock:
            if self.posts and self.posts[0].message == message and message:
                return self._duplicate()
            post = FacebookPost(f"{page_id}_{next(self._ids)}", message, _now(), link=link)
            self.posts.insert(0, post)
        return self._reply(200, {"id": post.id})

    @route("POST", f"/{VERSION}/{{page_id}}/photos")
    def create_photo(self, request: Request, page_id: str) -> Reply:
        parts = (
            request.multipart() if "multipart" in request.headers.get("content-type", "") else {}
        )
        params = {k: v.decode("utf-8") for k, v in parts.items() if k != "source"}
        params.update({k: v[-1] for k, v in request.query.items()})
        refused = self._refuse(params, page_id)
        if refused:
            return refused
        source = parts.get("source")
        if not source and not params.get("url"):
            return self._reply(400, graph_error("(#324) Requires upload file", code=324))
        caption = params.get("caption", "")
        with self.lock:
            if self.posts and caption and self.posts[0].message == caption:
                return self._duplicate()
            photo_id = str(next(self._ids))
            post = FacebookPost(
                f"{page_id}_{next(self._ids)}",
                caption,
                _now(),
                photo_id=photo_id,
                alt_text_custom=params.get("alt_text_custom"),
                image=source,
            )
            self.posts.insert(0, post)
        return self._reply(200, {"id": photo_id, "post_id": post.id})

    @route("GET", f"/{VERSION}/{{page_id}}/posts")
    def list_posts(self, request: Request, page_id: str) -> Reply:
        params = request.params()
        refused = self._refuse(params, page_id)
        if refused:
            return refused
        with self.lock:
            posts = list(self.posts)
        body = graph_page(
            posts,
            params,
            created=lambda p: p.created_time,
            as_graph=FacebookPost.as_graph,
            next_url=f"{self.api_base}/{page_id}/posts",
        )
        return self._reply(200, body)

    @route("GET", f"/{VERSION}/{{page_id}}")
    def read_page(self, request: Request, page_id: str) -> Reply:
        refused = self._refuse(request.params(), page_id)
        if refused:
            return refused
        return self._reply(200, {"id": page_id, "name": PAGE_NAME})

    def not_found(self, request: Request) -> Reply:
        return Reply(
            400,
            graph_error(f"Unknown path components: {request.path}", code=2500),
        )

    # -- helpers --------------------------------------------------------------------------

    def _refuse(self, params: dict[str, str], page_id: str) -> Reply | None:
        token = params.get("access_token")
        if not token:
            return self._reply(
                400,
                graph_error("An access token is required to request this resource.", code=104),
            )
        with self.lock:
            known = self._tokens.get(token)
        if known is None:
            return self._reply(
                400, graph_error("Invalid OAuth access token - Cannot parse access token", code=190)
            )
        if known.expired:
            return self._reply(
                400,
                graph_error(
                    "Error validating access token: Session has expired on Saturday, "
                    "28-Nov-26 05:00:00 PST.",
                    code=190,
                    subcode=463,
                ),
            )
        if page_id != known.page_id:
            return self._reply(
                400,
                graph_error(
                    f"(#200) The permission(s) pages_manage_posts are not available for {page_id}",
                    code=200,
                ),
            )
        return None

    def _duplicate(self) -> Reply:
        return self._reply(
            400,
            graph_error(
                "(#506) Duplicate status message",
                code=506,
                user_title="Duplicate Post",
                user_msg="You can't publish the same post twice in a row.",
            ),
        )

    def _reply(self, status: int, body: dict[str, Any]) -> Reply:
        return Reply(status, body, {"X-Business-Use-Case-Usage": self._usage(3, 0)})

    def _usage(self, percent: int, regain_minutes: int) -> str:
        entry = {
            "type": "pages",
            "call_count": percent,
            "total_cputime": max(1, percent // 4),
            "total_time": max(1, percent // 3),
            "estimated_time_to_regain_access": regain_minutes,
        }
        return json.dumps({self.page_id: [entry]})


def _now() -> datetime:
    return datetime.now(UTC)
