"""The explicit registry of social destinations (email lists are handled by the ledger's
email path, see ``distributor.channels.smtp``)."""

from __future__ import annotations

import importlib

from distributor.channels.base import Channel

SOCIAL_CHANNELS: dict[str, str] = {
    "mastodon": "distributor.channels.mastodon:Mastodon",
    "bluesky": "distributor.channels.bluesky:Bluesky",
    "outbox": "distributor.channels.outbox:Outbox",
    "x": "distributor.channels.x:X",
    "linkedin": "distributor.channels.linkedin:LinkedIn",
    "facebook": "distributor.channels.facebook:Facebook",
    "threads": "distributor.channels.threads:Threads",
    "telegram": "distributor.channels.telegram:Telegram",
}

EMAIL_KINDS = frozenset({"email"})
ALL_KINDS = frozenset(SOCIAL_CHANNELS) | EMAIL_KINDS


def channel_class(kind: str) -> type[Channel]:
    try:
        target = SOCIAL_CHANNELS[kind]
    except KeyError:
        raise ValueError(f"unknown channel kind {kind!r}; known: {sorted(ALL_KINDS)}") from None
    module_name, class_name = target.split(":")
    cls: type[Channel] = getattr(importlib.import_module(module_name), class_name)
    return cls
