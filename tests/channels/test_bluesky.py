"""The Bluesky adapter against the real PDS (tests/peers/bluesky.py), plus a tiny local HTTP
server for the failures the PDS will not produce on demand (429, 500, a dropped connection)."""

from __future__ import annotations

import io
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
from PIL import Image as PILImage
from pydantic import SecretStr

from distributor.channels.base import AuthExpired, ChannelError, MemoryState, Outgoing
from distributor.channels.bluesky import POST_COLLECTION, Bluesky
from distributor.channels.tid import TID_PATTERN, tid_for
from distributor.domain import Image, LinkCard, PostRendition
from distributor.http import make_session
from tests.peers.bluesky import BlueskyPeer, expired_copy

pytestmark = pytest.mark.peers

ARTICLE_URL = (
    "https://ishr.ch/latest-updates/civil-society-stresses-importance-of-access-"
    "role-of-defenders-at-meeting-with-un-secretary-general/"
)
ARTICLE_TITLE = (
    "Civil society stresses importance of access, role of defenders at meeting with "
    "UN Secretary-General"
)
IMAGE_URL = "https://ishr.ch/wp-content/uploads/2023/03/un-photo-manuel-elias.jpg"


@dataclass(frozen=True)
class Account:
    did: str
    handle: str
    password: str


@pytest.fixture
def account(bluesky_pds: BlueskyPeer) -> Account:
    return Account(*bluesky_pds.create_account(f"pub{secrets.token_hex(4)}"))


@pytest.fixture
def http() -> requests.Session:
    return make_session(allow_private=True)


def xrpc_method(response: requests.Response) -> str:
    return str(response.request.url).split("/xrpc/", 1)[1].split("?", 1)[0]


@pytest.fixture
def calls(http: requests.Session) -> list[str]:
    """The XRPC method of every request the adapter makes, as seen on the wire."""
    seen: list[str] = []

    def record(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        seen.append(xrpc_method(response))

    http.hooks["response"].append(record)
    return seen


@pytest.fixture
def refusals(http: requests.Session) -> list[tuple[str, int, str]]:
    """(method, status, XRPC error name) of every failed response."""
    seen: list[tuple[str, int, str]] = []

    def record(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        if not response.ok:
            seen.append((xrpc_method(response), response.status_code, response.json()["error"]))

    http.hooks["response"].append(record)
    return seen


def channel_for(
    url: str, account: Account, http: requests.Session, state: MemoryState | None = None
) -> Bluesky:
    config = Bluesky.Config(
        service_url=url, identifier=account.handle, app_password=SecretStr(account.password)
    )
    return Bluesky(config, http, state or MemoryState())


def byte_span(text: str, part: str) -> dict[str, int]:
    start = text.encode("utf-8").index(part.encode("utf-8"))
    return {"byteStart": start, "byteEnd": start + len(part.encode("utf-8"))}


def png_bytes() -> bytes:
    image = PILImage.new("RGB", (64, 40), (200, 30, 60))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def seed_post() -> PostRendition:
    # "António" and the curly quote make byte offsets differ from character offsets.
    text = (
        f"{ARTICLE_TITLE}: NGOs met António Guterres’ team.\n\n{ARTICLE_URL}\n\n#HumanRights #HRDs"
    )
    facets = [
        {
            "index": byte_span(text, ARTICLE_URL),
            "features": [{"$type": "app.bsky.richtext.facet#link", "uri": ARTICLE_URL}],
        },
        {
            "index": byte_span(text, "#HumanRights"),
            "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": "HumanRights"}],
        },
        {
            "index": byte_span(text, "#HRDs"),
            "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": "HRDs"}],
        },
    ]
    card = LinkCard(
        uri=ARTICLE_URL,
        title=ARTICLE_TITLE,
        description="Members of six international NGOs spoke with the UN Secretary-General.",
        image_url=IMAGE_URL,
    )
    return PostRendition(
        platform="bluesky",
        text=text,
        length=len(text),
        limit=300,
        link=ARTICLE_URL,
        card=card,
        image=Image(url=IMAGE_URL, alt="UN Photo"),
        facets=facets,
    )


def outgoing(post: PostRendition, *, image: bytes | None = None) -> Outgoing:
    return Outgoing(
        post=post,
        created_at=datetime.now(UTC),
        image_bytes=image,
        image_mime="image/png" if image else None,
    )


def text_post(text: str) -> PostRendition:
    return PostRendition(platform="bluesky", text=text, length=len(text), limit=300)


def new_key() -> str:
    return f"delivery-{secrets.token_hex(6)}"


def test_the_seed_post_lands_with_its_link_facet_and_card_thumbnail(
    bluesky_pds: BlueskyPeer, account: Account, http: requests.Session
) -> None:
    image = png_bytes()
    message = outgoing(seed_post(), image=image)
    key = new_key()

    receipt = channel_for(bluesky_pds.url, account, http).publish(message, idempotency_key=key)

    rkey = tid_for(message.created_at, key)
    assert receipt.remote_id == f"at://{account.did}/{POST_COLLECTION}/{rkey}"
    assert receipt.url == f"https://bsky.app/profile/{account.handle}/post/{rkey}"
    stored = bluesky_pds.xrpc_get(
        "com.atproto.repo.getRecord", repo=account.did, collection=POST_COLLECTION, rkey=rkey
    ).json()["value"]
    assert stored["text"] == message.post.text
    link = stored["facets"][0]
    start, end = link["index"]["byteStart"], link["index"]["byteEnd"]
    assert stored["text"].encode("utf-8")[start:end] == ARTICLE_URL.encode("utf-8")
    assert link["features"] == [{"$type": "app.bsky.richtext.facet#link", "uri": ARTICLE_URL}]
    external = stored["embed"]["external"]
    assert stored["embed"]["$type"] == "app.bsky.embed.external"
    assert (external["uri"], external["title"]) == (ARTICLE_URL, ARTICLE_TITLE)
    assert external["thumb"]["mimeType"] == "image/png"
    blob = bluesky_pds.xrpc_get(
        "com.atproto.sync.getBlob", did=account.did, cid=external["thumb"]["ref"]["$link"]
    )
    assert blob.status_code == 200
    assert blob.content == image


def test_a_card_without_image_bytes_is_sent_without_a_thumbnail(
    bluesky_pds: BlueskyPeer, account: Account, http: requests.Session, calls: list[str]
) -> None:
    message = outgoing(seed_post())
    key = new_key()

    channel_for(bluesky_pds.url, account, http).publish(message, idempotency_key=key)

    assert "com.atproto.repo.uploadBlob" not in calls
    stored = bluesky_pds.xrpc_get(
        "com.atproto.repo.getRecord",
        repo=account.did,
        collection=POST_COLLECTION,
        rkey=tid_for(message.created_at, key),
    ).json()["value"]
    assert "thumb" not in stored["embed"]["external"]


def test_one_login_serves_every_post_and_publishing_reads_nothing(
    bluesky_pds: BlueskyPeer, account: Account, http: requests.Session, calls: list[str]
) -> None:
    state = MemoryState()
    channel_for(bluesky_pds.url, account, http, state).publish(
        outgoing(text_post("first")), idempotency_key=new_key()
    )
    calls.clear()

    # A new adapter instance, as a new task would build, with the same stored state.
    channel_for(bluesky_pds.url, account, http, state).publish(
        outgoing(seed_post(), image=png_bytes()), idempotency_key=new_key()
    )

    assert calls == ["com.atproto.repo.uploadBlob", "com.atproto.repo.createRecord"]
    assert "accessJwt" in state.load()


@pytest.mark.parametrize(
    ("spoil", "refusal"),
    [(expired_copy, "ExpiredToken"), (lambda token: "garbled.not.a-jwt", "InvalidToken")],
)
def test_a_stale_access_token_is_refreshed_without_logging_in_again(
    bluesky_pds: BlueskyPeer,
    account: Account,
    http: requests.Session,
    calls: list[str],
    refusals: list[tuple[str, int, str]],
    spoil: Callable[[str], str],
    refusal: str,
) -> None:
    state = MemoryState()
    channel = channel_for(bluesky_pds.url, account, http, state)
    channel.check()
    stale = spoil(state.load()["accessJwt"])
    state.save({**state.load(), "accessJwt": stale})
    calls.clear()

    receipt = channel.publish(outgoing(text_post("after refresh")), idempotency_key=new_key())

    assert receipt.remote_id.startswith(f"at://{account.did}/")
    assert calls == [
        "com.atproto.repo.createRecord",
        "com.atproto.server.refreshSession",
        "com.atproto.repo.createRecord",
    ]
    assert refusals == [("com.atproto.repo.createRecord", 400, refusal)]
    assert state.load()["accessJwt"] != stale


def test_a_rejected_refresh_token_falls_back_to_one_login(
    bluesky_pds: BlueskyPeer, account: Account, http: requests.Session, calls: list[str]
) -> None:
    state = MemoryState()
    channel = channel_for(bluesky_pds.url, account, http, state)
    channel.check()
    state.save({**state.load(), "accessJwt": "garbled", "refreshJwt": "also-garbled"})
    calls.clear()

    channel.publish(outgoing(text_post("after login")), idempotency_key=new_key())

    assert calls.count("com.atproto.server.createSession") == 1
    assert calls.count("com.atproto.repo.createRecord") == 2


def test_the_same_delivery_maps_to_one_record(
    bluesky_pds: BlueskyPeer, account: Account, http: requests.Session
) -> None:
    state = MemoryState()
    channel = channel_for(bluesky_pds.url, account, http, state)
    message = outgoing(text_post("only once"))
    key = new_key()
    receipt = channel.publish(message, idempotency_key=key)

    assert channel.lookup(message, idempotency_key=key) == receipt

    # The same record key again is refused, so a blind retry cannot post twice.
    raw = http.post(
        f"{bluesky_pds.url}/xrpc/com.atproto.repo.createRecord",
        headers={"Authorization": f"Bearer {state.load()['accessJwt']}"},
        json={
            "repo": account.did,
            "collection": POST_COLLECTION,
            "rkey": tid_for(message.created_at, key),
            "record": {
                "$type": POST_COLLECTION,
                "text": "only once",
                "createdAt": "2026-11-28T10:00:00.000Z",
            },
        },
    )
    assert raw.status_code != 200
    with pytest.raises(ChannelError) as failure:
        channel.publish(message, idempotency_key=key)
    assert failure.value.ambiguous
    listed = bluesky_pds.xrpc_get(
        "com.atproto.repo.listRecords", repo=account.did, collection=POST_COLLECTION
    ).json()["records"]
    assert [r["uri"] for r in listed] == [receipt.remote_id]


def test_looking_up_a_delivery_never_sent_finds_nothing(
    bluesky_pds: BlueskyPeer, account: Account, http: requests.Session
) -> None:
    channel = channel_for(bluesky_pds.url, account, http)

    assert channel.lookup(outgoing(text_post("never")), idempotency_key=new_key()) is None


def test_a_wrong_app_password_means_the_channel_needs_reconnecting(
    bluesky_pds: BlueskyPeer, account: Account, http: requests.Session
) -> None:
    wrong = Account(account.did, account.handle, "not-the-password")
    channel = channel_for(bluesky_pds.url, wrong, http)

    with pytest.raises(AuthExpired):
        channel.publish(outgoing(text_post("nope")), idempotency_key=new_key())


def test_check_names_the_account(
    bluesky_pds: BlueskyPeer, account: Account, http: requests.Session
) -> None:
    assert channel_for(bluesky_pds.url, account, http).check() == (
        f"@{account.handle} ({account.did})"
    )


# One grapheme, two code points, eight UTF-8 bytes: 301 of them stay under the 3000-byte
# limit, so only the grapheme rule can refuse them.
THUMBS_UP = "\N{THUMBS UP SIGN}\N{EMOJI MODIFIER FITZPATRICK TYPE-4}"


def test_exactly_300_graphemes_are_accepted(
    bluesky_pds: BlueskyPeer, account: Account, http: requests.Session
) -> None:
    receipt = channel_for(bluesky_pds.url, account, http).publish(
        outgoing(text_post(THUMBS_UP * 300)), idempotency_key=new_key()
    )

    assert TID_PATTERN.fullmatch(receipt.remote_id.rsplit("/", 1)[1])


def test_301_graphemes_are_a_permanent_error(
    bluesky_pds: BlueskyPeer, account: Account, http: requests.Session
) -> None:
    channel = channel_for(bluesky_pds.url, account, http)

    with pytest.raises(ChannelError) as failure:
        channel.publish(outgoing(text_post(THUMBS_UP * 301)), idempotency_key=new_key())

    assert failure.value.permanent
    assert not failure.value.ambiguous
    assert "InvalidRequest" in failure.value.message


# -- failures the real PDS does not produce on demand -------------------------------------

Reply = Callable[[BaseHTTPRequestHandler], None]


def json_reply(status: int, body: str, headers: dict[str, str] | None = None) -> Reply:
    def reply(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body.encode())

    return reply


def hang_up(handler: BaseHTTPRequestHandler) -> None:
    handler.close_connection = True
    handler.connection.shutdown(socket.SHUT_RDWR)


SESSION = json_reply(
    200, '{"did":"did:plc:abc","handle":"pub.test","accessJwt":"a","refreshJwt":"r"}'
)


@pytest.fixture
def xrpc_stub() -> Iterator[tuple[str, dict[str, Reply]]]:
    """An HTTP server answering each XRPC method with the reply the test puts in the dict."""
    replies: dict[str, Reply] = {"com.atproto.server.createSession": SESSION}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            replies[self.path.split("/xrpc/", 1)[1].split("?", 1)[0]](self)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", replies
    finally:
        server.shutdown()
        server.server_close()


STUB_ACCOUNT = Account("did:plc:abc", "pub.test", "pw")


def test_a_rate_limit_says_when_to_come_back(
    xrpc_stub: tuple[str, dict[str, Reply]], http: requests.Session
) -> None:
    url, replies = xrpc_stub
    reset = int(time.time()) + 120
    replies["com.atproto.repo.createRecord"] = json_reply(
        429,
        '{"error":"RateLimitExceeded","message":"Rate Limit Exceeded"}',
        {"RateLimit-Reset": str(reset), "RateLimit-Remaining": "0"},
    )

    with pytest.raises(ChannelError) as failure:
        channel_for(url, STUB_ACCOUNT, http).publish(
            outgoing(text_post("hi")), idempotency_key=new_key()
        )

    assert not failure.value.permanent
    assert failure.value.retry_after is not None
    assert 60 < failure.value.retry_after <= 120


def test_a_rate_limit_is_the_pds_saying_wait_not_a_failure(
    xrpc_stub: tuple[str, dict[str, Reply]], http: requests.Session
) -> None:
    url, replies = xrpc_stub
    replies["com.atproto.repo.createRecord"] = json_reply(
        429,
        '{"error":"RateLimitExceeded","message":"Rate Limit Exceeded"}',
        {"RateLimit-Reset": str(int(time.time()) + 120), "RateLimit-Remaining": "0"},
    )

    with pytest.raises(ChannelError) as failure:
        channel_for(url, STUB_ACCOUNT, http).publish(
            outgoing(text_post("hi")), idempotency_key=new_key()
        )

    assert failure.value.rate_limited


def test_a_server_error_with_retry_after_is_not_a_rate_limit(
    xrpc_stub: tuple[str, dict[str, Reply]], http: requests.Session
) -> None:
    url, replies = xrpc_stub
    replies["com.atproto.repo.createRecord"] = json_reply(
        503,
        '{"error":"ServiceUnavailable","message":"Service Unavailable"}',
        {"Retry-After": "30"},
    )

    with pytest.raises(ChannelError) as failure:
        channel_for(url, STUB_ACCOUNT, http).publish(
            outgoing(text_post("hi")), idempotency_key=new_key()
        )

    assert not failure.value.rate_limited


def test_a_server_error_on_create_may_have_posted(
    xrpc_stub: tuple[str, dict[str, Reply]], http: requests.Session
) -> None:
    url, replies = xrpc_stub
    replies["com.atproto.repo.createRecord"] = json_reply(
        500, '{"error":"InternalServerError","message":"Internal Server Error"}'
    )

    with pytest.raises(ChannelError) as failure:
        channel_for(url, STUB_ACCOUNT, http).publish(
            outgoing(text_post("hi")), idempotency_key=new_key()
        )

    assert failure.value.ambiguous
    assert not failure.value.permanent


def test_a_connection_dropped_after_sending_may_have_posted(
    xrpc_stub: tuple[str, dict[str, Reply]], http: requests.Session
) -> None:
    url, replies = xrpc_stub
    replies["com.atproto.repo.createRecord"] = hang_up

    with pytest.raises(ChannelError) as failure:
        channel_for(url, STUB_ACCOUNT, http).publish(
            outgoing(text_post("hi")), idempotency_key=new_key()
        )

    assert failure.value.ambiguous


def test_an_unreachable_server_surely_did_not_post(http: requests.Session) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    channel = channel_for(f"http://127.0.0.1:{closed_port}", STUB_ACCOUNT, http)

    with pytest.raises(ChannelError) as failure:
        channel.publish(outgoing(text_post("hi")), idempotency_key=new_key())

    assert not failure.value.ambiguous
    assert not failure.value.permanent


def test_a_private_address_is_refused_outside_tests(
    xrpc_stub: tuple[str, dict[str, Reply]],
) -> None:
    url, _ = xrpc_stub
    channel = channel_for(url, STUB_ACCOUNT, make_session())

    with pytest.raises(ChannelError) as failure:
        channel.check()

    assert failure.value.permanent
