"""Bluesky record keys (TIDs) chosen by us, so a delivery always maps to the same record.

A TID is a 64-bit integer written as 13 base32-sortable characters: a zero top bit, 53 bits
of microseconds since the Unix epoch, and a 10-bit clock id. Deriving both parts from the
delivery (its creation time and its idempotency key) means a retry of the same delivery asks
for the same record key, and the PDS refuses a second record under it.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta

S32_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"
TID_PATTERN = re.compile(r"^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TIMESTAMP_BITS = 53
_CLOCK_ID_BITS = 10
_LENGTH = 13


def clock_id_for(key: str) -> int:
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % (1 << _CLOCK_ID_BITS)


def tid_for(created_at: datetime, key: str) -> str:
    """The TID for a delivery created at ``created_at`` (naive means UTC) with ``key``."""
    if created_at.tzinfo is None:
        created_at = created_at.replace(tzinfo=UTC)
    # Integer division of timedeltas is exact; float timestamps lose microseconds after 2^53.
    micros = (created_at - _EPOCH) // timedelta(microseconds=1)
    if not 0 <= micros < (1 << _TIMESTAMP_BITS):
        raise ValueError(f"{created_at.isoformat()} cannot be written as a TID")
    value = (micros << _CLOCK_ID_BITS) | clock_id_for(key)
    chars = []
    for _ in range(_LENGTH):
        chars.append(S32_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def is_tid(value: str) -> bool:
    return TID_PATTERN.fullmatch(value) is not None
