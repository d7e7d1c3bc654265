"""A person's edit of a post: re-measured by the platform's rule, facets recomputed."""

from __future__ import annotations

from typing import Any

from distributor.rendering.social import bluesky_facets
from distributor.rendering.text import measure


class EditRejected(ValueError):
    pass


def _cleaned(text: str) -> str:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    cleaned = "\n".join(line.rstrip() for line in lines)
    return "".join(c for c in cleaned if c == "\n" or c.isprintable()).strip()


def rebuild_post(
    payload: dict[str, Any], text: str, *, thread: list[str] | None = None
) -> dict[str, Any]:
    """The post payload with ``text`` (and, when given, the thread's replies) in place;
    refuses a text or reply over the platform's limit. An empty reply is dropped."""
    platform = payload["platform"]
    cleaned = _cleaned(text)
    if not cleaned:
        raise EditRejected("a post cannot be empty")
    measured = measure(platform, cleaned)
    if not measured.fits:
        raise EditRejected(
            f"{platform}: {measured.length}/{measured.limit} is over the limit"
            + (f" ({measured.detail})" if measured.detail else "")
        )
    replies = list(payload.get("thread") or [])
    if thread is not None:
        replies = [part for part in (_cleaned(reply) for reply in thread) if part]
        for number, reply in enumerate(replies, start=2):
            reply_measured = measure(platform, reply)
            if not reply_measured.fits:
                raise EditRejected(
                    f"{platform}: reply {number} is over the limit ({reply_measured.detail})"
                )
    warnings = [w for w in payload.get("warnings", []) if "link" not in w]
    link = payload.get("link")
    if link and link not in cleaned:
        warnings.append("the article link is no longer in the text")
    return {
        **payload,
        "text": cleaned,
        "length": measured.length,
        "limit": measured.limit,
        "facets": bluesky_facets(cleaned) if platform == "bluesky" else [],
        "warnings": warnings,
        "thread": replies,
    }
