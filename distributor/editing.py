"""A person's edit of a post: re-measured by the platform's rule, facets recomputed."""

from __future__ import annotations

from typing import Any

from distributor.rendering.social import bluesky_facets
from distributor.rendering.text import measure


class EditRejected(ValueError):
    pass


def rebuild_post(payload: dict[str, Any], text: str) -> dict[str, Any]:
    """The post payload with ``text`` in place; refuses a text over the platform's limit."""
    platform = payload["platform"]
    cleaned = "\n".join(
        line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    )
    cleaned = "".join(c for c in cleaned if c == "\n" or c.isprintable()).strip()
    if not cleaned:
        raise EditRejected("a post cannot be empty")
    measured = measure(platform, cleaned)
    if not measured.fits:
        raise EditRejected(
            f"{platform}: {measured.length}/{measured.limit} is over the limit"
            + (f" ({measured.detail})" if measured.detail else "")
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
    }
