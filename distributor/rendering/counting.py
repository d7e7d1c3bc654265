"""Every network's counting rule in one table (reference/platform-apis.md §0 and per platform).

Mastodon and Bluesky are defined in text.py; this module adds X, LinkedIn, Facebook, Threads
and Telegram and registers them in ``text.MEASURES`` so that ``measure()`` (from either module)
and every caller of it (review, editing, CLI) know all of them. Importing
``distributor.rendering`` imports this module, so the table is complete before any use.

Where a limit is unverified, the stricter reading of "characters" is taken: UTF-16 code units
(never fewer than code points), so what fits here fits there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import regex

from distributor.rendering.escaping import linkedin_commentary
from distributor.rendering.text import MEASURES, Measure, Measurement, measure
from distributor.rendering.x_text import MAX_WEIGHTED_LENGTH, url_count, x_length

__all__ = [
    "MEASURES",
    "TELEGRAM_CAPTION_LIMIT",
    "LinkLimitedMeasure",
    "Measurement",
    "link_count",
    "linkedin_length",
    "measure",
    "threads_length",
    "utf16_length",
]

LINKEDIN_LIMIT = 3000
FACEBOOK_LIMIT = 63206  # platform-apis.md §5 (unverified); far above any post we make
THREADS_LIMIT = 500
THREADS_MAX_LINKS = 5
TELEGRAM_LIMIT = 4096
TELEGRAM_CAPTION_LIMIT = 1024  # sendPhoto captions: an adapter sending a photo checks this

_GRAPHEME = regex.compile(r"\X")
_EMOJI = regex.compile(r"[\p{Extended_Pictographic}\p{Regional_Indicator}\u20e3]")
# Every character _EMOJI matches lies in these ranges (© ® and U+203C up): a cheap first test
# that lets typical punctuation (’ – “ ”) skip the Unicode-property search.
_MAYBE_EMOJI = re.compile("[\u00a9\u00ae\u203c-\U0010ffff]")


def utf16_length(text: str) -> int:
    """UTF-16 code units: Telegram's unit for entity offsets and lengths."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def linkedin_length(text: str) -> int:
    """The ``commentary`` as sent: reserved characters backslash-escaped (each escape is a
    character LinkedIn receives), in UTF-16 units."""
    return utf16_length(linkedin_commentary(text))


def threads_length(text: str) -> int:
    """Threads: characters, but "emojis are counted as the number of UTF-8 bytes". Counted
    per grapheme cluster: an emoji sequence costs its UTF-8 bytes (a ZWJ family 25), anything
    else its code points."""
    if text.isascii() or not _MAYBE_EMOJI.search(text) or _EMOJI.search(text) is None:
        return len(text)
    total = 0
    for cluster in _GRAPHEME.findall(text):
        total += len(cluster.encode("utf-8")) if _EMOJI.search(cluster) else len(cluster)
    return total


def link_count(text: str) -> int:
    """Links as the most eager extractor sees them (twitter-text's: bare domains included), so
    that a post under the limit here is under it wherever links are counted."""
    return url_count(text)


@dataclass(frozen=True)
class LinkLimitedMeasure(Measure):
    """A length limit and a maximum number of links (Threads refuses a sixth)."""

    max_links: int = THREADS_MAX_LINKS

    def fits(self, text: str) -> bool:
        # Length first: counting links is the costlier test.
        return super().fits(text) and link_count(text) <= self.max_links

    def length_fits(self, text: str) -> bool:
        """The length test alone, for texts known to hold few enough links."""
        return super().fits(text)

    def __call__(self, text: str) -> Measurement:
        measured = super().__call__(text)
        links = link_count(text)
        detail = f"{measured.detail}, {links}/{self.max_links} links"
        return replace(measured, fits=measured.fits and links <= self.max_links, detail=detail)


NETWORK_MEASURES: dict[str, Measure] = {
    "x": Measure(
        "x",
        MAX_WEIGHTED_LENGTH,
        x_length,
        "weighted characters (CJK and emoji 2, each URL 23)",
    ),
    "linkedin": Measure(
        "linkedin", LINKEDIN_LIMIT, linkedin_length, "characters (UTF-16, reserved escaped)"
    ),
    "facebook": Measure("facebook", FACEBOOK_LIMIT, utf16_length, "characters (UTF-16)"),
    "threads": LinkLimitedMeasure(
        "threads", THREADS_LIMIT, threads_length, "characters (emoji as UTF-8 bytes)"
    ),
    "telegram": Measure("telegram", TELEGRAM_LIMIT, utf16_length, "UTF-16 code units"),
}
MEASURES.update(NETWORK_MEASURES)
