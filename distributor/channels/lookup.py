"""Shared by adapters that find a delivery's post again by reading the account's recent posts
(platforms without idempotency keys, after an ambiguous outcome)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from distributor.channels.base import Outgoing

# A post created before the delivery existed cannot be the delivery's post; the margin absorbs
# clock skew between us and the platform.
CLOCK_SKEW = timedelta(minutes=5)


def aware(moment: datetime) -> datetime:
    """``moment`` with a zone: a zone-less time is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def posted_since(message: Outgoing) -> datetime:
    """The earliest creation time the delivery's post can have on the platform."""
    return aware(message.created_at) - CLOCK_SKEW
