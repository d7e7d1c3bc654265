"""Bluesky's counting rule agrees with the real PDS (tests/peers/bluesky.py): what measure()
says fits is stored, what it says does not is refused, at the exact limits (300 graphemes,
3000 UTF-8 bytes)."""

from __future__ import annotations

import secrets

import pytest
import requests

from distributor.rendering import measure
from tests.peers.bluesky import BlueskyPeer

pytestmark = pytest.mark.peers

FAMILY = "👨\u200d👩\u200d👧\u200d👦"  # one grapheme, 25 bytes
TEN_BYTES = "é\u0301\u0302\u0303\u0304"  # one grapheme: 2 + 4 × 2 bytes
ELEVEN_BYTES = "€\u0301\u0302\u0303\u0304"  # one grapheme: 3 + 4 × 2 bytes


@pytest.fixture(scope="module")
def poster(bluesky_pds: BlueskyPeer) -> tuple[requests.Session, str]:
    """An HTTP session logged in to a fresh account, and the account's DID."""
    did, handle, password = bluesky_pds.create_account(f"limits{secrets.token_hex(4)}")
    http = requests.Session()
    http.trust_env = False
    session = http.post(
        f"{bluesky_pds.url}/xrpc/com.atproto.server.createSession",
        json={"identifier": handle, "password": password},
        timeout=30,
    )
    session.raise_for_status()
    http.headers["Authorization"] = f"Bearer {session.json()['accessJwt']}"
    return http, did


def create_post(bluesky_pds: BlueskyPeer, poster: tuple[requests.Session, str], text: str) -> int:
    http, did = poster
    response = http.post(
        f"{bluesky_pds.url}/xrpc/com.atproto.repo.createRecord",
        json={
            "repo": did,
            "collection": "app.bsky.feed.post",
            "record": {
                "$type": "app.bsky.feed.post",
                "text": text,
                "createdAt": "2026-11-28T10:00:00.000Z",
            },
        },
        timeout=30,
    )
    return response.status_code


@pytest.mark.parametrize(
    ("text", "fits"),
    [
        ("a" * 300, True),
        ("a" * 301, False),
        ("e\u0301" * 300, True),  # 600 code points, but 300 graphemes
        ("a" * 299 + FAMILY, True),
        ("a" * 300 + FAMILY, False),
        (TEN_BYTES * 300, True),  # exactly 3000 bytes
        (TEN_BYTES * 299 + ELEVEN_BYTES, False),  # 3001 bytes in 300 graphemes
        (FAMILY * 120, True),  # 120 graphemes, 3000 bytes
        (FAMILY * 121, False),  # 121 graphemes, 3025 bytes
    ],
)
def test_the_pds_accepts_exactly_what_measure_says_fits(
    bluesky_pds: BlueskyPeer, poster: tuple[requests.Session, str], text: str, fits: bool
) -> None:
    assert measure("bluesky", text).fits is fits
    status = create_post(bluesky_pds, poster, text)
    assert (status == 200) is fits, status
