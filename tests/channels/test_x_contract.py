"""The X adapter's real requests checked against X's own OpenAPI document (APIs.guru's
``twitter.com/current.json``, X API v2) by Prism: what the fake accepts, X's schema must too.

The spec has no media upload or OAuth token endpoint, so those two calls are covered by the
fake only (tests/channels/test_x.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from distributor.channels.base import ChannelError, MemoryState, Outgoing
from distributor.channels.x import X
from distributor.domain import PostRendition
from distributor.http import make_session
from tests.peers.prism import PrismPeer, prism_x  # noqa: F401

pytestmark = pytest.mark.peers

LINK = "https://ishr.ch/latest-updates/civil-society-meets-secretary-general/"
SPEC_USER = "2244994945"  # the user id in the spec's examples


def _recorded_channel(url: str, **config: Any) -> tuple[X, list[requests.Response]]:
    seen: list[requests.Response] = []
    session = make_session(timeout=10.0, allow_private=True)
    session.hooks["response"].append(lambda response, *args, **kwargs: seen.append(response))
    settings = X.Config.model_validate({"access_token": "user-token", "api_base": url, **config})
    return X(settings, session, MemoryState()), seen


def _request_violations(responses: list[requests.Response]) -> list[str]:
    found: list[str] = []
    for response in responses:
        for violation in json.loads(response.headers.get("sl-violations") or "[]"):
            if violation["location"][0] == "request":
                found.append(f"{response.request.method} {response.url}: {violation['message']}")
    return found


def _message(text: str, thread: list[str]) -> Outgoing:
    post = PostRendition(
        platform="x", text=text, length=len(text), limit=280, link=LINK, thread=thread
    )
    return Outgoing(post=post, created_at=datetime.now(UTC))


def test_posts_threads_and_lookups_are_valid_requests_for_x(
    prism_x: PrismPeer,  # noqa: F811
) -> None:
    x, seen = _recorded_channel(prism_x.url, user_id=SPEC_USER, username="ishr_news")
    message = _message(f"Civil society meets the Secretary-General {LINK}", ["2/2 More"])
    x.publish(message, idempotency_key="contract-1")
    # Prism's example timeline always has a next page: the lookup pages, then gives up.
    with pytest.raises(ChannelError, match="too many posts"):
        x.lookup(message, idempotency_key="another-delivery")
    anonymous, seen_too = _recorded_channel(prism_x.url)  # no user id: asks /2/users/me
    anonymous.check()
    responses = seen + seen_too
    calls = [(r.request.method, r.request.path_url.split("?")[0]) for r in responses]
    timeline = ("GET", f"/2/users/{SPEC_USER}/tweets")
    assert calls == [("POST", "/2/tweets")] * 2 + [timeline] * 5 + [("GET", "/2/users/me")]
    assert "pagination_token=" in (responses[3].request.path_url or "")
    assert _request_violations(responses) == []
    assert [r.status_code for r in responses] == [201] * 2 + [200] * 6
    reply = json.loads(responses[1].request.body or b"{}")
    assert reply["reply"] == {"in_reply_to_tweet_id": "1346889436626259968"}


def test_prism_does_refuse_what_x_would_refuse(prism_x: PrismPeer) -> None:  # noqa: F811
    """The check above is not vacuous: an invalid body and a missing token are caught."""
    bad = requests.post(
        f"{prism_x.url}/2/tweets",
        json={"text": "x", "bogus": True},
        headers={"Authorization": "Bearer t"},
        timeout=10,
    )
    assert bad.status_code == 422 and "additional properties" in bad.headers["sl-violations"]
    x, _ = _recorded_channel(prism_x.url)
    with pytest.raises(ChannelError):
        x._call("GET", "/2/users/me", bearer=False)
