"""Making untrusted article text safe to mail and post: an email-sized HTML allowlist, single-line
text for titles and leads, and removal of the mailer's per-recipient placeholders.

Article content is data: nothing here interprets template syntax, so ``{{ 7*7 }}`` stays literal.
"""

from __future__ import annotations

import html
import re
import unicodedata

import nh3
import regex

from distributor.domain import PLACEHOLDERS, strip_placeholders

ALLOWED_TAGS = frozenset(
    {"p", "br", "a", "strong", "em", "b", "i", "ul", "ol", "li", "blockquote", "h2", "h3", "h4"}
)
# Removed together with everything inside them; other unknown tags lose the tag, keep the text.
DROPPED_WITH_CONTENT = frozenset(
    {
        "script", "style", "iframe", "object", "embed", "form", "input", "button", "select",
        "textarea", "svg", "math", "noscript", "template", "frame", "frameset", "applet",
    }
)  # fmt: skip
URL_SCHEMES = frozenset({"http", "https", "mailto"})
LINK_REL = "noopener noreferrer"

# Bidi embeddings, overrides and isolates can make a subject line read differently from its bytes.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_BLOCK_BOUNDARY = re.compile(
    r"<\s*/?\s*(?:br|p|div|li|ul|ol|h[1-6]|blockquote|tr|td|th|figcaption|figure)\b[^>]*>",
    re.IGNORECASE,
)
_EMPTY_PARAGRAPH = re.compile(r"<p>\s*</p>")
_GRAPHEME = regex.compile(r"\X")


def has_placeholder(text: str) -> bool:
    return any(placeholder in text for placeholder in PLACEHOLDERS)


def clean_html(html_text: str, *, base_url: str | None = None) -> str:
    """Sanitise article HTML for an email body.

    Relative links are resolved against ``base_url`` when given and dropped otherwise: in a
    mailbox there is no page for them to be relative to. Images are not allowed in the body:
    the article's lead image travels separately with its credit and alt text, and inline images
    from arbitrary hosts would track our readers.
    """
    cleaned = nh3.clean(
        strip_placeholders(html_text),
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(DROPPED_WITH_CONTENT),
        attributes={"a": {"href", "title"}},
        url_schemes=set(URL_SCHEMES),
        link_rel=LINK_REL,
        strip_comments=True,
        url_relative=("rewrite_with_base", base_url) if base_url else "deny",
    )
    # Entities decoded during sanitising can spell a placeholder again, so strip once more.
    cleaned = strip_placeholders(cleaned)
    return _EMPTY_PARAGRAPH.sub("", cleaned).strip()


def single_line(text: str, max_len: int) -> str:
    """One line of visible text: every line boundary and whitespace run becomes one space,
    control characters go, and text longer than ``max_len`` is cut at a word boundary with "…"."""
    if max_len < 1:
        raise ValueError("max_len must be at least 1")
    visible = "".join(_visible(ch) for ch in strip_placeholders(text))
    collapsed = " ".join(visible.split())
    return _cap(collapsed, max_len)


def plain_text(markup: str, max_len: int = 100_000) -> str:
    """Text of an HTML fragment (a feed title or summary) as one line: tags stripped, entities
    decoded, script and style content dropped."""
    spaced = _BLOCK_BOUNDARY.sub(" ", markup)
    text_only = nh3.clean(spaced, tags=set(), clean_content_tags=set(DROPPED_WITH_CONTENT))
    return single_line(html.unescape(text_only), max_len)


def clean_paragraph(text: str) -> str:
    """A paragraph of plain text with control characters removed and whitespace tidied, but
    otherwise kept exactly (no cap)."""
    visible = "".join(_visible(ch) for ch in strip_placeholders(text))
    return " ".join(visible.split())


def paragraphs_to_html(paragraphs: list[str]) -> str:
    """Plain-text paragraphs as sanitised ``<p>`` elements."""
    return clean_html("".join(f"<p>{html.escape(p, quote=False)}</p>" for p in paragraphs))


def _visible(ch: str) -> str:
    if ch.isspace():
        return " "
    if ch in _BIDI_CONTROLS or unicodedata.category(ch) == "Cc":
        return ""
    return ch


def _cap(text: str, max_len: int) -> str:
    if len(text) <= max_len:
        return text
    room = max_len - 1  # leave space for the ellipsis
    head = text[: room + 1]
    cut = head.rfind(" ")
    if cut > 0:
        shortened = head[:cut]
    else:
        # One word longer than the cap: cut between graphemes so no emoji or accent is split.
        shortened = ""
        for grapheme in _GRAPHEME.findall(text):
            if len(shortened) + len(grapheme) > room:
                break
            shortened += grapheme
    return shortened.rstrip(" ,;:-–—") + "…"
