"""Escaping of post text for platforms whose text field is a markup format.

The rendition keeps the text as readers see it (that is what is measured and reviewed); the
adapter escapes it on the way out with these functions, so nothing is escaped twice."""

from __future__ import annotations

import html
import re

import regex

# LinkedIn "little text format": an unescaped reserved character silently truncates the post
# at that character (platform-apis.md, LinkedIn §Text).
LINKEDIN_RESERVED = frozenset("\\|{}@[]()<>#*_~")


_LINKEDIN_RESERVED_CHAR = re.compile(
    "[" + "".join(re.escape(char) for char in sorted(LINKEDIN_RESERVED)) + "]"
)


# A hashtag as little text's HashtagElement reads it ("#hashtag"): a whole word of letters,
# marks and digits, not only digits. Its "#" stays unescaped so that LinkedIn shows a
# hashtag, not the text "#Tag".
_LINKEDIN_HASHTAG = regex.compile(
    r"(?<!\S)#(?=[\p{L}\p{M}\p{N}]*[\p{L}\p{M}])[\p{L}\p{M}\p{N}]+(?!\S)"
)


def linkedin_commentary(text: str) -> str:
    """Backslash-escape every reserved character of LinkedIn's little text format, but
    the "#" that starts a hashtag."""
    pieces: list[str] = []
    position = 0
    for hashtag in _LINKEDIN_HASHTAG.finditer(text):
        pieces.append(_escape_reserved(text[position : hashtag.start()]))
        pieces.append(hashtag.group())
        position = hashtag.end()
    pieces.append(_escape_reserved(text[position:]))
    return "".join(pieces)


def _escape_reserved(text: str) -> str:
    return _LINKEDIN_RESERVED_CHAR.sub(lambda match: "\\" + match.group(), text)


def telegram_html(text: str) -> str:
    """Text for Telegram's HTML parse mode: only ``<``, ``>`` and ``&`` need escaping."""
    return html.escape(text, quote=False)
