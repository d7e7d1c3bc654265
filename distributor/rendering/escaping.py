"""Escaping of post text for platforms whose text field is a markup format.

The rendition keeps the text as readers see it (that is what is measured and reviewed); the
adapter escapes it on the way out with these functions, so nothing is escaped twice."""

from __future__ import annotations

import html
import re

# LinkedIn "little text format": an unescaped reserved character silently truncates the post
# at that character (platform-apis.md, LinkedIn §Text).
LINKEDIN_RESERVED = frozenset("\\|{}@[]()<>#*_~")


_LINKEDIN_RESERVED_CHAR = re.compile(
    "[" + "".join(re.escape(char) for char in sorted(LINKEDIN_RESERVED)) + "]"
)


def linkedin_commentary(text: str) -> str:
    """Backslash-escape every reserved character of LinkedIn's little text format."""
    return _LINKEDIN_RESERVED_CHAR.sub(lambda match: "\\" + match.group(), text)


def telegram_html(text: str) -> str:
    """Text for Telegram's HTML parse mode: only ``<``, ``>`` and ``&`` need escaping."""
    return html.escape(text, quote=False)
