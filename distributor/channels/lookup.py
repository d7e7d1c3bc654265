"""Shared by adapters that find a delivery's post again by reading the account's recent posts
(platforms without idempotency keys, after an ambiguous outcome)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from distributor.channels.base import ChannelError, Outgoing, Receipt
from distributor.domain import PostRendition

# A post created before the delivery existed cannot be the delivery's post; the margin absorbs
# clock skew between us and the platform.
CLOCK_SKEW = timedelta(minutes=5)


def aware(moment: datetime) -> datetime:
    """``moment`` with a zone: a zone-less time is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def posted_since(message: Outgoing) -> datetime:
    """The earliest creation time the delivery's post can have on the platform."""
    return aware(message.created_at) - CLOCK_SKEW


def complete_thread(first: Receipt, confirmed: int, post: PostRendition) -> Receipt:
    """``first`` when all of the delivery's thread is confirmed live. A thread that stops part
    way after an ambiguous reply can be neither sent again (the reply may be live: it would be
    posted twice) nor called sent (the rest would be dropped unseen): a person decides."""
    total = 1 + len(post.thread)
    if confirmed >= total:
        return first
    raise ChannelError(
        f"the first post is live ({first.url or first.remote_id}) but the thread stops after "
        f"part {confirmed} of {total}, and whether the next reply landed is unknown: check the "
        "account and resolve this delivery by hand",
        permanent=True,
    )
