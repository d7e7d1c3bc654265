"""Meta's Graph-style errors (Facebook Pages and Threads) translated to the channel contract.

Graph answers failures with ``{"error": {"message", "type", "code", "error_subcode",
"error_user_title", "error_user_msg", "fbtrace_id"}}`` and an HTTP status that says little:
throttling comes as error codes 4, 17, 32, 613 or 80001, not as HTTP 429
(reference/platform-apis.md §5). How long to wait is in the usage headers:
``X-Business-Use-Case-Usage`` (page tokens) carries ``estimated_time_to_regain_access`` in
minutes; ``X-App-Usage`` (app and user tokens) only percentages of a rolling hour.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NoReturn

import requests

from distributor.channels.base import AuthExpired, ChannelError
from distributor.channels.transport import call, json_object

THROTTLING = frozenset({4, 17, 32, 341, 613, 80001})
# 190: token expired, revoked or invalid; 102: session; 10 and 200–299: a permission was
# removed. Either way a person has to connect the account again.
AUTH = frozenset({102, 190, 10, *range(200, 300)})
TRANSIENT = frozenset({1, 2})
POLICY_BLOCK = 368
DUPLICATE = 506
LINK_SCRAPE_FAILED = 1609005

# Throttled without a time: the platform window is a rolling hour, so a few minutes lets
# the oldest calls age out without hammering it.
THROTTLE_RETRY_AFTER = 300.0
SERVER_RETRY_AFTER = 60.0
POLICY_RETRY_AFTER = 3600.0
# After an ambiguous outcome, read this many pages of the account's newest posts at most.
LOOKUP_PAGES = 5
PAGE_SIZE = 25
# The linked article may not be reachable for Facebook's scraper yet (just published, cache).
LINK_RETRY_AFTER = 900.0


@dataclass(frozen=True)
class GraphError:
    status: int
    code: int | None
    subcode: int | None
    type: str
    message: str
    transient: bool

    @classmethod
    def from_response(cls, response: requests.Response) -> GraphError:
        try:
            body = response.json()
        except ValueError:
            body = None
        error = body.get("error") if isinstance(body, dict) else None
        if not isinstance(error, dict):
            return cls(response.status_code, None, None, "", response.reason or "", False)
        user_message = str(error.get("error_user_msg") or "")
        message = str(error.get("message") or "")
        if user_message and user_message not in message:
            message = f"{message} ({user_message})" if message else user_message
        return cls(
            status=response.status_code,
            code=_int(error.get("code")),
            subcode=_int(error.get("error_subcode")),
            type=str(error.get("type") or ""),
            message=message,
            transient=error.get("is_transient") is True,
        )

    def describe(self, platform: str) -> str:
        code = f" error {self.code}" if self.code is not None else ""
        if self.subcode is not None:
            code += f"/{self.subcode}"
        return f"{platform} HTTP {self.status}{code}: {self.message or 'no message'}"


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def regain_seconds(headers: Mapping[str, str]) -> float | None:
    """The longest ``estimated_time_to_regain_access`` (minutes) in the Business Use Case
    usage header, in seconds; None when the header is absent or says nothing is blocked."""
    raw = headers.get("X-Business-Use-Case-Usage")
    if not raw:
        return None
    try:
        usage = json.loads(raw)
    except ValueError:
        return None
    minutes = [
        float(entry["estimated_time_to_regain_access"])
        for entries in (usage.values() if isinstance(usage, dict) else [])
        for entry in (entries if isinstance(entries, list) else [])
        if isinstance(entry, dict)
        and isinstance(entry.get("estimated_time_to_regain_access"), int | float)
    ]
    longest = max(minutes, default=0.0)
    return longest * 60 if longest > 0 else None


def throttle_wait(headers: Mapping[str, str]) -> float:
    """Seconds to wait after a throttling error: ``Retry-After`` if sent, else the regain
    time of the Business Use Case header, else a few minutes."""
    try:
        return max(0.0, float(headers.get("Retry-After", "")))
    except ValueError:
        pass
    regain = regain_seconds(headers)
    return regain if regain is not None else THROTTLE_RETRY_AFTER


def raise_for(response: requests.Response, *, platform: str, after_send: bool) -> NoReturn:
    """Translate a failed Graph call. ``after_send`` marks calls whose effect may have
    happened even though the answer is an error (a 5xx from the publishing call)."""
    error = GraphError.from_response(response)
    text = error.describe(platform)
    if error.code in THROTTLING or response.status_code == 429:
        raise ChannelError(text, retry_after=throttle_wait(response.headers), rate_limited=True)
    if error.code in AUTH or response.status_code == 401:
        raise AuthExpired(text)
    if error.code == DUPLICATE:
        # The page's previous post has this exact content: most likely our own earlier attempt
        # landed after all. Reconciliation looks it up instead of failing the delivery.
        raise ChannelError(f"{text}; the post may already be there", permanent=True, ambiguous=True)
    if error.code == POLICY_BLOCK:
        raise ChannelError(text, retry_after=POLICY_RETRY_AFTER)
    if error.code == LINK_SCRAPE_FAILED:
        raise ChannelError(text, retry_after=LINK_RETRY_AFTER)
    if response.status_code >= 500 or error.code in TRANSIENT or error.transient:
        raise ChannelError(text, retry_after=SERVER_RETRY_AFTER, ambiguous=after_send)
    raise ChannelError(text, permanent=True)


def graph_call(
    http: requests.Session,
    method: str,
    url: str,
    fields: Mapping[str, str | int],
    *,
    platform: str,
    token: str,
    after_send: bool = False,
    **kwargs: Any,
) -> dict[str, Any]:
    """One Graph call with the token added to ``fields``: the query of a GET, the form body
    otherwise (so it never lands in an access log). Returns the JSON object of the answer."""
    kwargs["params" if method == "GET" else "data"] = {**fields, "access_token": token}
    response = call(
        http, method, url, target=platform, after_send=after_send, secrets=[token], **kwargs
    )
    if not response.ok:
        raise_for(response, platform=platform, after_send=after_send)
    return json_object(response, platform=platform, after_send=after_send)


def find_since(
    get: Callable[[str, dict[str, str | int]], dict[str, Any]],
    path: str,
    *,
    fields: str,
    since: datetime,
    match: Callable[[dict[str, Any]], bool],
    items: str,
    too_many: str,
) -> dict[str, Any] | None:
    """The first of the account's posts listed at ``path`` (newest first, created from
    ``since`` on) that ``match`` accepts, or None when there is none. ``items`` names the list
    and ``too_many`` the posts in error messages."""
    params: dict[str, str | int] = {
        "fields": fields,
        "since": int(since.timestamp()),
        "limit": PAGE_SIZE,
    }
    for _ in range(LOOKUP_PAGES):
        page = get(path, params)
        posts = page.get("data")
        if not isinstance(posts, list):
            raise ChannelError(f"{items} are not a JSON list", retry_after=60)
        for item in posts:
            if isinstance(item, dict) and match(item):
                return item
        after = (page.get("paging") or {}).get("cursors", {}).get("after")
        if len(posts) < PAGE_SIZE or not after:
            return None
        params = {**params, "after": str(after)}
    raise ChannelError(
        f"{too_many} since the delivery was created to tell whether it landed",
        retry_after=SERVER_RETRY_AFTER,
    )
