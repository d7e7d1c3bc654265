"""A Bluesky thread (a post and its numbered replies) against the real PDS: replies carry
root and parent strong refs and their own facets, under record keys chosen from the delivery,
and a retry after a failure in the middle resumes without creating any part twice."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from pydantic import SecretStr

from distributor.channels.base import ChannelError, MemoryState, Outgoing
from distributor.channels.bluesky import POST_COLLECTION, Bluesky, record_key
from distributor.channels.tid import is_tid, tid_for
from distributor.domain import PostRendition
from distributor.http import make_session
from distributor.rendering.social import bluesky_facets, render_post
from tests.channels.posting import post_setup, reconcile, the_row
from tests.factories import seed_article, send_due, settings_for
from tests.peers.bluesky import BlueskyPeer

pytestmark = pytest.mark.peers

LINK = "https://ishr.ch/latest-updates/civil-society-meets-secretary-general/"
REPORT = "https://ishr.ch/reports/reprisals-2026/"
FIRST = f"Civil society meets António Guterres’ team: NGOs asked for access 1/3 {LINK}"
SECOND = f"and for the protection of defenders, as the report shows: {REPORT} 2/3"
THIRD = "The meeting followed a year of reprisals against #HumanRights defenders 3/3"
# One grapheme, eight UTF-8 bytes: 301 of them are refused by the lexicon's grapheme rule.
THUMBS_UP = "\N{THUMBS UP SIGN}\N{EMOJI MODIFIER FITZPATRICK TYPE-4}"


def thread_post(*replies: str) -> PostRendition:
    return PostRendition(
        platform="bluesky",
        text=FIRST,
        length=len(FIRST),
        limit=300,
        link=LINK,
        facets=bluesky_facets(FIRST),
        thread=list(replies or (SECOND, THIRD)),
    )


def message(post: PostRendition | None = None) -> Outgoing:
    return Outgoing(post=post or thread_post(), created_at=datetime.now(UTC))


@pytest.fixture
def account(bluesky_pds: BlueskyPeer) -> tuple[str, str, str]:
    return bluesky_pds.create_account(f"thr{secrets.token_hex(4)}")


@pytest.fixture
def http() -> requests.Session:
    return make_session(allow_private=True)


def channel(
    pds: BlueskyPeer, account: tuple[str, str, str], http: requests.Session, state: MemoryState
) -> Bluesky:
    _, handle, password = account
    config = Bluesky.Config(
        service_url=pds.url, identifier=handle, app_password=SecretStr(password)
    )
    return Bluesky(config, http, state)


def lose_the_answer_of_create(http: requests.Session, number: int) -> None:
    """The ``number``-th createRecord lands, but the connection drops before its answer."""
    created: list[str] = []

    def hook(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        if str(response.request.url).endswith("/com.atproto.repo.createRecord") and response.ok:
            created.append(response.json()["uri"])
            if len(created) == number:
                raise requests.ConnectionError("connection reset by peer", response=response)

    http.hooks["response"].append(hook)


def records(pds: BlueskyPeer, did: str) -> dict[str, dict[str, Any]]:
    """Every post record of the account: rkey → {uri, cid, value}."""
    listed = pds.xrpc_get(
        "com.atproto.repo.listRecords", repo=did, collection=POST_COLLECTION
    ).json()["records"]
    return {r["uri"].rsplit("/", 1)[1]: r for r in listed}


def assert_one_chain(pds: BlueskyPeer, did: str, outgoing: Outgoing, key: str) -> None:
    stored = records(pds, did)
    rkeys = [record_key(outgoing.created_at, key, index) for index in range(3)]
    assert sorted(stored) == sorted(rkeys), "each part once, under its own key"
    root, second, third = (stored[rkey] for rkey in rkeys)
    root_ref = {"uri": root["uri"], "cid": root["cid"]}
    assert "reply" not in root["value"]
    assert second["value"]["reply"] == {"root": root_ref, "parent": root_ref}
    assert third["value"]["reply"] == {
        "root": root_ref,
        "parent": {"uri": second["uri"], "cid": second["cid"]},
    }
    texts = [root["value"]["text"], second["value"]["text"], third["value"]["text"]]
    assert texts == [FIRST, SECOND, THIRD]


def facet_texts(record: dict[str, Any]) -> list[tuple[str, dict[str, str]]]:
    """(the covered text, the feature) of each facet, cut at its UTF-8 byte offsets."""
    data = record["value"]["text"].encode("utf-8")
    return [
        (
            data[f["index"]["byteStart"] : f["index"]["byteEnd"]].decode("utf-8"),
            f["features"][0],
        )
        for f in record["value"].get("facets", [])
    ]


def test_record_keys_of_a_thread_are_tids_in_order_starting_with_the_posts_own() -> None:
    created = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
    keys = [record_key(created, "delivery-1", index) for index in range(3)]

    assert keys[0] == tid_for(created, "delivery-1")
    assert all(is_tid(k) for k in keys)
    assert keys == sorted(set(keys)), "distinct and in thread order"


def test_a_three_part_thread_lands_as_a_chain_with_reply_refs_and_facets(
    bluesky_pds: BlueskyPeer, account: tuple[str, str, str], http: requests.Session
) -> None:
    outgoing = message()
    receipt = channel(bluesky_pds, account, http, MemoryState()).publish(
        outgoing, idempotency_key="delivery-1"
    )

    did = account[0]
    root_key = tid_for(outgoing.created_at, "delivery-1")
    assert receipt.remote_id == f"at://{did}/{POST_COLLECTION}/{root_key}"
    assert_one_chain(bluesky_pds, did, outgoing, "delivery-1")
    stored = records(bluesky_pds, did)
    second = stored[record_key(outgoing.created_at, "delivery-1", 1)]
    third = stored[record_key(outgoing.created_at, "delivery-1", 2)]
    assert facet_texts(second) == [
        (REPORT, {"$type": "app.bsky.richtext.facet#link", "uri": REPORT})
    ]
    assert facet_texts(third) == [
        ("#HumanRights", {"$type": "app.bsky.richtext.facet#tag", "tag": "HumanRights"})
    ]


def test_a_reply_whose_answer_was_lost_is_found_and_the_resend_adds_only_the_rest(
    bluesky_pds: BlueskyPeer, account: tuple[str, str, str], http: requests.Session
) -> None:
    state = MemoryState()
    outgoing = message()
    lose_the_answer_of_create(http, 2)
    with pytest.raises(ChannelError) as failure:
        channel(bluesky_pds, account, http, state).publish(outgoing, idempotency_key="d-2")
    assert failure.value.ambiguous, "the reply may have landed"
    assert "is live but reply 2 of 3 was not posted" in failure.value.message

    # A blind retry asks for reply 2's record key again: the PDS refuses a second record.
    retry = channel(bluesky_pds, account, make_session(allow_private=True), state)
    with pytest.raises(ChannelError) as refused:
        retry.publish(outgoing, idempotency_key="d-2")
    assert refused.value.ambiguous
    assert len(records(bluesky_pds, account[0])) == 2

    # What the ledger does next: look up (reply 2 is there, 3 is not), then send again.
    assert retry.lookup(outgoing, idempotency_key="d-2") is None
    receipt = retry.publish(outgoing, idempotency_key="d-2")

    assert_one_chain(bluesky_pds, account[0], outgoing, "d-2")
    assert retry.lookup(outgoing, idempotency_key="d-2") == receipt


def test_a_lookup_with_the_progress_lost_still_finds_every_part_by_its_key(
    bluesky_pds: BlueskyPeer, account: tuple[str, str, str], http: requests.Session
) -> None:
    outgoing = message()
    receipt = channel(bluesky_pds, account, http, MemoryState()).publish(
        outgoing, idempotency_key="d-3"
    )

    fresh = channel(bluesky_pds, account, http, MemoryState())

    assert fresh.lookup(outgoing, idempotency_key="d-3") == receipt
    assert fresh.publish(outgoing, idempotency_key="d-3") == receipt, "nothing left to post"
    assert len(records(bluesky_pds, account[0])) == 3


def test_a_reply_refused_for_good_leaves_the_thread_to_a_person(
    bluesky_pds: BlueskyPeer, account: tuple[str, str, str], http: requests.Session
) -> None:
    outgoing = message(thread_post(SECOND, THUMBS_UP * 301))
    adapter = channel(bluesky_pds, account, http, MemoryState())

    with pytest.raises(ChannelError) as failure:
        adapter.publish(outgoing, idempotency_key="d-4")

    assert failure.value.permanent and failure.value.ambiguous, "out, but not whole"
    assert "InvalidRequest" in failure.value.message
    with pytest.raises(ChannelError, match=r"thread stops after part 2 of 3.*by hand"):
        adapter.lookup(outgoing, idempotency_key="d-4")
    assert len(records(bluesky_pds, account[0])) == 2


# -- through the Sender and the ledger ---------------------------------------------------


def test_a_thread_delivery_is_sent_as_a_chain_and_recorded_as_its_first_post(
    tmp_path: Path, bluesky_pds: BlueskyPeer, account: tuple[str, str, str]
) -> None:
    did, handle, password = account
    options = {"service_url": bluesky_pds.url, "identifier": handle, "app_password": password}
    channels = [("bsky-whole", "bluesky", options)]
    setup = post_setup(tmp_path, channels, thread_post())

    assert send_due(setup) == {"sent": 1}

    row = the_row(setup, "bsky-whole")
    outgoing = Outgoing(post=thread_post(), created_at=row.created_at)
    assert_one_chain(bluesky_pds, did, outgoing, row.idem_key)
    assert (
        row.remote_id == f"at://{did}/{POST_COLLECTION}/{record_key(row.created_at, row.idem_key)}"
    )


def test_a_refused_reply_leaves_the_delivery_unknown_after_reconciling(
    tmp_path: Path, bluesky_pds: BlueskyPeer, account: tuple[str, str, str]
) -> None:
    _, handle, password = account
    options = {"service_url": bluesky_pds.url, "identifier": handle, "app_password": password}
    post = thread_post(THUMBS_UP * 301, THIRD)
    setup = post_setup(tmp_path, [("bsky-main", "bluesky", options)], post)

    assert send_due(setup) == {"unknown": 1}
    assert reconcile(setup) == {"sent": 0, "resend": 0, "still_unknown": 1}

    row = the_row(setup, "bsky-main")
    assert row.state == "unknown"
    assert "is live but reply 2 of 3 was not posted" in (row.last_error or "")
    assert len(records(bluesky_pds, account[0])) == 1, "never posted again"


def test_the_seed_article_rendered_as_a_thread_is_accepted_by_the_pds_part_by_part(
    tmp_path: Path, bluesky_pds: BlueskyPeer, account: tuple[str, str, str]
) -> None:
    did, handle, password = account
    settings = settings_for(f"sqlite:///{tmp_path / 'render.db'}", tmp_path)
    post = render_post(
        seed_article(settings), "bluesky", thread=True, templates_dir=settings.templates_dir
    )
    assert isinstance(post, PostRendition) and post.thread, "the seed lead needs a reply"
    options = {"service_url": bluesky_pds.url, "identifier": handle, "app_password": password}
    setup = post_setup(tmp_path, [("bsky-seed", "bluesky", options)], post)

    assert send_due(setup) == {"sent": 1}

    row = the_row(setup, "bsky-seed")
    stored = records(bluesky_pds, did)
    parts = [stored[record_key(row.created_at, row.idem_key, i)] for i in range(len(stored))]
    assert [p["value"]["text"] for p in parts] == [post.text, *post.thread]
    parents = [p["value"]["reply"]["parent"]["uri"] for p in parts[1:]]
    assert parents == [p["uri"] for p in parts[:-1]]
