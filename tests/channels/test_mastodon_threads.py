"""A Mastodon thread (a post and its numbered replies) against a real mastodon-mock server:
it lands as a reply chain, and a retry after a failure in the middle resumes it without
posting any part twice."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from pydantic import SecretStr

from distributor.channels.base import ChannelError, MemoryState, Outgoing
from distributor.channels.mastodon import Mastodon, part_key
from distributor.domain import PostRendition
from distributor.http import make_session
from tests.channels.posting import post_setup, reconcile, the_row
from tests.factories import send_due
from tests.peers.mastodon import (  # noqa: F401
    MastodonPeer,
    mastodon_server,
    mastodon_session_server,
)

pytestmark = pytest.mark.peers

LINK = "https://ishr.ch/latest-updates/civil-society-meets-secretary-general/"
FIRST = f"Civil society meets the Secretary-General: NGOs asked for access 1/3 {LINK}"
SECOND = "and for the protection of defenders who cooperate with the UN 2/3"
THIRD = "The meeting followed a year of reprisals against #HumanRights defenders 3/3"


def thread_post(*replies: str) -> PostRendition:
    return PostRendition(
        platform="mastodon",
        text=FIRST,
        length=len(FIRST),
        limit=500,
        link=LINK,
        thread=list(replies or (SECOND, THIRD)),
    )


def message(post: PostRendition | None = None) -> Outgoing:
    return Outgoing(post=post or thread_post(), created_at=datetime.now(UTC))


def channel(peer: MastodonPeer, http: requests.Session, state: MemoryState) -> Mastodon:
    config = Mastodon.Config(base_url=peer.url, access_token=SecretStr(peer.token))
    return Mastodon(config, http, state)


@pytest.fixture
def http() -> requests.Session:
    return make_session(timeout=5.0, allow_private=True)


def after_statuses_created(
    http: requests.Session, count: int, then: Callable[[requests.Response], None]
) -> None:
    """Run ``then`` once, right after the server created the ``count``-th status."""
    created: list[str] = []

    def hook(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        request = response.request
        if request.method == "POST" and request.path_url == "/api/v1/statuses" and response.ok:
            created.append(response.json()["id"])
            if len(created) == count:
                then(response)

    http.hooks["response"].append(hook)


def lose_the_answer(response: requests.Response) -> None:
    """The status is created, but the connection drops before its answer arrives."""
    raise requests.ConnectionError("connection reset by peer", response=response)


def chain(peer: MastodonPeer) -> list[tuple[str, str | None, str]]:
    """(id, in_reply_to_id, content) of every status of the account, oldest first."""
    return [(s["id"], s["in_reply_to_id"], s["content"]) for s in reversed(peer.statuses())]


def assert_one_chain(peer: MastodonPeer, first_id: str) -> None:
    statuses = chain(peer)
    assert len(statuses) == 3, "each part exactly once"
    (one, parent1, text1), (two, parent2, text2), (_, parent3, text3) = statuses
    assert one == first_id
    assert (parent1, parent2, parent3) == (None, one, two)
    assert "1/3" in text1 and "2/3" in text2 and "3/3" in text3


def test_a_three_part_thread_lands_as_a_reply_chain_and_the_receipt_is_the_first_status(
    mastodon_server: MastodonPeer,  # noqa: F811
    http: requests.Session,
) -> None:
    receipt = channel(mastodon_server, http, MemoryState()).publish(
        message(), idempotency_key="delivery-1"
    )

    assert_one_chain(mastodon_server, receipt.remote_id)
    first = mastodon_server.statuses()[-1]
    assert receipt.url == first["url"]
    assert LINK in first["content"]


def test_each_part_has_its_own_key_derived_from_the_delivery() -> None:
    keys = [part_key("delivery-1", number) for number in (1, 2, 3)]

    assert keys[0] == "delivery-1", "the post keeps the key a post without replies has"
    assert len(set(keys)) == 3
    assert keys == [part_key("delivery-1", number) for number in (1, 2, 3)], "never per attempt"


def test_a_server_error_on_a_reply_is_retried_from_that_reply(
    mastodon_server: MastodonPeer,  # noqa: F811
    http: requests.Session,
) -> None:
    state = MemoryState()
    after_statuses_created(
        http,
        1,
        lambda _: mastodon_server.inject_fault(
            "/api/v1/statuses", {"type": "status", "status": 503}
        ),
    )
    with pytest.raises(ChannelError) as failure:
        channel(mastodon_server, http, state).publish(message(), idempotency_key="delivery-2")
    assert not failure.value.permanent
    assert "is live but reply 2 of 3 was not posted" in failure.value.message
    assert len(chain(mastodon_server)) == 1

    # The next attempt, as a new task builds it, with the same stored state.
    receipt = channel(
        mastodon_server, make_session(timeout=5.0, allow_private=True), state
    ).publish(message(), idempotency_key="delivery-2")

    assert_one_chain(mastodon_server, receipt.remote_id)


def test_a_reply_whose_answer_was_lost_is_not_posted_again_on_retry(
    mastodon_server: MastodonPeer,  # noqa: F811
    http: requests.Session,
) -> None:
    state = MemoryState()
    outgoing = message()
    after_statuses_created(http, 2, lose_the_answer)
    with pytest.raises(ChannelError) as failure:
        channel(mastodon_server, http, state).publish(outgoing, idempotency_key="delivery-3")
    assert failure.value.ambiguous, "the reply may have landed"
    assert len(chain(mastodon_server)) == 2

    # A blind retry sends reply 2 with the same key: Mastodon answers with the status it has.
    retry = channel(mastodon_server, make_session(timeout=5.0, allow_private=True), state)
    receipt = retry.publish(outgoing, idempotency_key="delivery-3")

    assert_one_chain(mastodon_server, receipt.remote_id)


def test_lookup_after_a_lost_answer_finds_the_replies_and_the_resend_adds_only_the_rest(
    mastodon_server: MastodonPeer,  # noqa: F811
    http: requests.Session,
) -> None:
    outgoing = message()
    after_statuses_created(http, 2, lose_the_answer)
    with pytest.raises(ChannelError):
        channel(mastodon_server, http, MemoryState()).publish(outgoing, idempotency_key="d-4")
    # Even with the progress lost (a fresh state), the replies are found under the post.
    state = MemoryState()
    fresh = channel(mastodon_server, make_session(timeout=5.0, allow_private=True), state)

    assert fresh.lookup(outgoing, idempotency_key="d-4") is None, "part 3 is not out yet"
    receipt = fresh.publish(outgoing, idempotency_key="d-4")

    assert_one_chain(mastodon_server, receipt.remote_id)
    assert fresh.lookup(outgoing, idempotency_key="d-4") == receipt


def test_a_reply_refused_for_good_leaves_the_thread_to_a_person(
    mastodon_server: MastodonPeer,  # noqa: F811
    http: requests.Session,
) -> None:
    state = MemoryState()
    outgoing = message(thread_post("x" * 501, THIRD))
    adapter = channel(mastodon_server, http, state)

    with pytest.raises(ChannelError) as failure:
        adapter.publish(outgoing, idempotency_key="delivery-5")

    assert failure.value.permanent and failure.value.ambiguous, "out, but not whole"
    with pytest.raises(ChannelError, match=r"thread stops after part 1 of 3.*by hand"):
        adapter.lookup(outgoing, idempotency_key="delivery-5")
    assert len(chain(mastodon_server)) == 1


# -- through the Sender and the ledger ---------------------------------------------------


def test_a_thread_delivery_is_sent_as_a_chain_and_recorded_as_its_first_status(
    tmp_path: Path,
    mastodon_server: MastodonPeer,  # noqa: F811
) -> None:
    options = {"base_url": mastodon_server.url, "access_token": mastodon_server.token}
    setup = post_setup(tmp_path, [("mastodon-main", "mastodon", options)], thread_post())

    assert send_due(setup) == {"sent": 1}

    row = the_row(setup, "mastodon-main")
    assert_one_chain(mastodon_server, str(row.remote_id))


def test_a_refused_reply_leaves_the_delivery_unknown_with_the_reason_after_reconciling(
    tmp_path: Path,
    mastodon_server: MastodonPeer,  # noqa: F811
) -> None:
    options = {"base_url": mastodon_server.url, "access_token": mastodon_server.token}
    post = thread_post("x" * 501, THIRD)
    setup = post_setup(tmp_path, [("mastodon-main", "mastodon", options)], post)

    assert send_due(setup) == {"unknown": 1}
    assert reconcile(setup) == {"sent": 0, "resend": 0, "still_unknown": 1}

    row = the_row(setup, "mastodon-main")
    assert row.state == "unknown"
    assert "is live but reply 2 of 3 was not posted" in (row.last_error or "")
    assert len(chain(mastodon_server)) == 1, "never posted again"
