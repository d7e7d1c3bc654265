"""Escaping of post text for platforms whose text field is a markup format.

The rendition keeps the text as readers see it (that is what is measured and reviewed); the
adapter escapes it on the way out with these functions, so nothing is escaped twice."""

from __future__ import annotations

import html

# LinkedIn "little text format": an unescaped reserved character silently truncates the post
# at that character (platform-apis.md, LinkedIn §Text).
LINKEDIN_RESERVED = frozenset("\\|{}@[]()<>#*_~")


def linkedin_commentary(text: str) -> str:
    """Backslash-escape every reserved character of LinkedIn's little text format."""
    return "".join("\\" + ch if ch in LINKEDIN_RESERVED else ch for ch in text)


def telegram_html(text: str) -> str:
    """Text for Telegram's HTML parse mode: only ``<``, ``>`` and ``&`` need escaping."""
    return html.escape(text, quote=False)
