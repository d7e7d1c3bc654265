"""One social channel driven through the real ledger and Sender, for adapter fault tests.

The rendition is set to a given post (as if the comms team had written it), approved and
scheduled now, so a test controls exactly what the platform fake receives. The helpers are
``posting``'s, for the one channel named ``CHANNEL``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from distributor.domain import PostRendition
from distributor.storage import tables as t
from tests.channels import posting
from tests.channels.posting import reconcile
from tests.factories import Setup, send_due

CHANNEL = "network"

__all__ = ["CHANNEL", "channel_row", "delivery", "one_channel_setup", "reconcile", "send_when_due"]


def one_channel_setup(
    tmp_path: Path,
    kind: str,
    options: dict[str, Any],
    post: PostRendition,
    *,
    http_timeout: float = 5.0,
) -> Setup:
    return posting.post_setup(
        tmp_path,
        [(CHANNEL, kind, options)],
        post,
        subscribers=0,
        http_timeout_seconds=http_timeout,
    )


def delivery(setup: Setup) -> t.Delivery:
    return posting.the_row(setup, CHANNEL)


def channel_row(setup: Setup) -> t.Channel:
    return posting.channel_row(setup, CHANNEL)


def send_when_due(setup: Setup) -> dict[str, int]:
    """Let the delivery's retry time pass, then tick the dispatcher."""
    posting.make_due(setup, CHANNEL)
    return send_due(setup)
