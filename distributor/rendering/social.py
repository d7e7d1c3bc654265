"""One social post per platform from an article: text that fits by the platform's own
counting rule (counting.py), hashtags from categories, a link card where the platform needs the
client to build it (Bluesky, LinkedIn), and for Bluesky facets.

Fitting order: all hashtags → drop hashtags from the last → shorten the lead at a word →
drop the lead and shorten the title. The article URL is never shortened; a post whose URL
alone does not fit is a RenderError. With ``thread=True`` (platforms with reply threads only)
a lead that does not fit is not shortened but continued in numbered replies, each of which
fits by the same rule.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import regex
from jinja2 import Template, TemplateError

from distributor.domain import Article, Image, LinkCard, PostRendition, RenderError
from distributor.rendering import shapes
from distributor.rendering.counting import MEASURES, LinkLimitedMeasure, link_count
from distributor.rendering.jinja import text_environment
from distributor.rendering.options import Utm
from distributor.rendering.text import (
    ELLIPSIS,
    cut_points,
    find_urls,
    grapheme_prefix,
    graphemes,
    is_http_url,
    points_within,
    shorten,
    single_line,
    truncate,
    utf8_length,
)

SOCIAL_PLATFORMS = (
    "mastodon",
    "bluesky",
    "outbox",
    "x",
    "linkedin",
    "facebook",
    "threads",
    "telegram",
)
# Where a post can be followed by replies of the same account (platform-apis.md per platform).
THREAD_PLATFORMS = frozenset({"mastodon", "bluesky", "x", "threads"})
# Platforms whose API does not unfurl links: the client sends the card (platform-apis.md §0).
CARD_PLATFORMS = frozenset({"bluesky", "linkedin"})
# Hashtags per post: a few help people find a post, more read as spam; Threads shows one tag.
MAX_HASHTAGS = {
    "mastodon": 5,
    "outbox": 5,
    "bluesky": 3,
    "x": 2,
    "linkedin": 3,
    "facebook": 3,
    "threads": 1,
    "telegram": 3,
}
MAX_THREAD_PARTS = 10
MIN_THREAD_HEAD_GRAPHEMES = 80
# The widest part number a thread can have, used while splitting: real numbers are never wider.
_NUMBER_SLOT = f"{MAX_THREAD_PARTS}/{MAX_THREAD_PARTS}"

# Categories every article carries say nothing a hashtag could help anyone find.
GENERIC_CATEGORIES = frozenset(
    {"news", "latest updates", "updates", "general", "uncategorized", "uncategorised", "blog"}
)
MAX_TAG_GRAPHEMES = 64  # Bluesky's limit for a #tag facet; Mastodon has none this short
CARD_DESCRIPTION_GRAPHEMES = 300
ALT_TEXT_GRAPHEMES = 1500  # Mastodon's media description_limit
# X's media metadata takes at most 1,000 characters of alt text (platform-apis.md §3).
ALT_TEXT_LIMITS = {"x": 1000}

_TAG_WORD = regex.compile(r"[\p{L}\p{M}\p{N}]+")
_APOSTROPHES = regex.compile(r"['’ʼ]")
_HASHTAG_IN_TEXT = regex.compile(r"(?<!\S)#([\p{L}\p{M}\p{N}_]+)(?!\S)")
_BLANK_LINES = regex.compile(r"\n{3,}")


def hashtag(category: str) -> str | None:
    """``"Human rights defenders"`` → ``"HumanRightsDefenders"`` (no ``#``); None when the
    category cannot make a valid tag (nothing but digits, or too long)."""
    words = _TAG_WORD.findall(_APOSTROPHES.sub("", category))
    tag = "".join(word[:1].upper() + word[1:] for word in words)
    if not tag or tag.isdigit() or graphemes(tag) > MAX_TAG_GRAPHEMES:
        return None
    return tag


def hashtags(categories: Sequence[str], *, text: str = "", limit: int | None = None) -> list[str]:
    """Tags in category order, generic categories skipped, no tag twice (case-insensitively,
    as the platforms treat them), none that repeats a word already in ``text`` (the post says
    it already), at most ``limit``."""
    folded = _APOSTROPHES.sub("", text).casefold()
    tags: list[str] = []
    seen: set[str] = set()
    for category in categories:
        if single_line(category).casefold() in GENERIC_CATEGORIES:
            continue
        tag = hashtag(category)
        if tag and tag.casefold() not in seen and not _has_word(folded, tag.casefold()):
            seen.add(tag.casefold())
            tags.append(tag)
    return tags if limit is None else tags[:limit]


def _has_word(folded_text: str, folded_word: str) -> bool:
    """Whether ``folded_word`` is one of the words (as _TAG_WORD splits them) of the text."""
    start = folded_text.find(folded_word)
    while start != -1:
        end = start + len(folded_word)
        before = folded_text[start - 1 : start]
        after = folded_text[end : end + 1]
        if not (before and _TAG_WORD.match(before)) and not (after and _TAG_WORD.match(after)):
            return True
        start = folded_text.find(folded_word, start + 1)
    return False


@dataclass
class PostSource:
    """What every platform's post of one article is made from, worked out once per article
    rather than once per platform: the one-line title and lead, every hashtag the categories
    give (before a platform's maximum), and, on first need, where the lead may be cut."""

    article: Article
    title: str
    lead: str
    tags: list[str]
    # Whether title, lead and every "#tag" pass _keeps_lines (see _PostTemplate).
    keeps_lines: bool = False
    url_is_http: bool = False
    _lead_cuts: list[int] | None = field(default=None, repr=False)
    _card_description: str | None = field(default=None, repr=False)

    @classmethod
    def of(cls, article: Article) -> PostSource:
        title = single_line(article.title)
        lead = single_line(article.lead)
        tags = hashtags(article.categories, text=f"{title} {lead}")
        given = [title, lead, *(f"#{tag}" for tag in tags)]
        keeps_lines = all(map(_keeps_lines, filter(None, given)))
        return cls(article, title, lead, tags, keeps_lines, is_http_url(article.url))

    def lead_cuts(self) -> list[int]:
        """``cut_points(self.lead)``: every shortening of the lead on every platform uses them."""
        if self._lead_cuts is None:
            self._lead_cuts = cut_points(self.lead)
        return self._lead_cuts

    def card_description(self) -> str:
        if self._card_description is None:
            self._card_description = truncate(
                self.lead, CARD_DESCRIPTION_GRAPHEMES, points=self.lead_cuts()
            )
        return self._card_description


def render_post(
    article: Article | PostSource,
    platform: str,
    *,
    templates_dir: Path,
    thread: bool = False,
    utm: Utm | None = None,
    max_hashtags: int | None = None,
) -> PostRendition | RenderError:
    """The post for ``platform``, or a RenderError explaining why there is none.

    ``article``: the article, or its PostSource when rendering it for several platforms.

    ``thread``: continue a lead that does not fit in numbered replies (where the platform has
    threads). ``utm``: UTM parameters added to the article link before anything is measured.
    ``max_hashtags``: overrides the platform's maximum (MAX_HASHTAGS)."""
    if platform not in SOCIAL_PLATFORMS:
        known = ", ".join(SOCIAL_PLATFORMS)
        return RenderError(f"unknown platform {platform!r}; known: {known}", where="social")
    where = f"social/{platform}"
    source = article if isinstance(article, PostSource) else PostSource.of(article)
    url = source.article.url
    if url is not None and not source.url_is_http:
        return RenderError(f"article URL {url!r} is not an absolute http(s) URL", where=where)
    if url and utm is not None:
        url = utm.apply(url, platform)
    if max_hashtags is None:
        max_hashtags = MAX_HASHTAGS.get(platform)
    elif max_hashtags < 0:
        return RenderError(f"max_hashtags must be ≥ 0, not {max_hashtags}", where=where)
    try:
        template = text_environment(templates_dir).template(f"social/{platform}.txt.j2")
        return _fit(
            source,
            platform,
            template,
            url or None,
            thread=thread and platform in THREAD_PLATFORMS,
            max_hashtags=max_hashtags,
        )
    except TemplateError as error:
        return RenderError(f"template error: {error}", where=where)


def _fit(
    source: PostSource,
    platform: str,
    template: Template,
    url: str | None,
    *,
    thread: bool,
    max_hashtags: int | None,
) -> PostRendition | RenderError:
    rule = MEASURES[platform].remembering()
    where = f"social/{platform}"
    title, lead = source.title, source.lead
    tags = source.tags if max_hashtags is None else source.tags[:max_hashtags]
    warnings: list[str] = []
    replies: list[str] = []
    render = _PostTemplate(template, url or "", source)
    fits = rule.fits

    # A URL inside the lead may count less than its graphemes (Mastodon: 23), hence the slack.
    bound = rule.limit * 2

    kept = list(tags)
    bare: str | None = None
    if kept and not thread and len(lead) > rule.limit:
        # Longer in characters than the limit: without its hashtags it most likely does not
        # fit either, and then (more text never counts less) none of them will, so that
        # text is the one to measure first. (Only what gets measured changes, not the post.)
        bare = render(title, lead, [])
        if not fits(bare):
            kept = []
    text = bare if bare is not None and not kept else render(title, lead, kept)
    if isinstance(rule, LinkLimitedMeasure):
        links = link_count(text)
        if links > rule.max_links:
            warnings.append(
                f"{links} links, but {platform} refuses more than {rule.max_links}: "
                "the text was shortened until no more remained"
            )
        else:
            # Every candidate is this text with less of it (cuts never split a URL), so none
            # has more links: the length alone decides.
            fits = rule.length_fits
    if thread and lead and not fits(text):
        threaded = _thread(render, fits, title, lead, tags, bound, source.lead_cuts())
        if isinstance(threaded, str):
            warnings.append(f"no thread: {threaded}; shortened instead")
        else:
            text, replies, kept = threaded
            if replies:
                warnings.append(f"lead continued in {len(replies)} numbered replies")
    if kept and not fits(text):
        bare = bare or render(title, lead, [])
        if fits(bare):
            while not fits(text) and kept:
                kept.pop()
                text = render(title, lead, kept)
        else:
            kept, text = [], bare  # without any hashtag it does not fit: none will
    if len(kept) < len(tags):
        dropped = " ".join(f"#{tag}" for tag in tags[len(kept) :])
        warnings.append(f"hashtags dropped to fit: {dropped}")

    if not fits(text):
        # Shortening the lead by what the text is over its limit, and by the "…" it gains,
        # is about right on every platform: the search starts there.
        over = rule.count(text) - rule.limit + rule.count(ELLIPSIS)
        short_lead = shorten(
            lead,
            lambda candidate: fits(render(title, candidate, [])),
            bound=bound,
            points=source.lead_cuts(),
            near=len(lead) - over,
            too_long=True,  # the lead as it is: the text just measured
        )
        if short_lead is not None:
            warnings.append("lead shortened to fit")
            text = render(title, short_lead, [])
        else:
            short_title = shorten(
                title, lambda candidate: fits(render(candidate, "", [])), bound=bound
            )
            if short_title is None:
                return RenderError(
                    f"the link alone does not fit: {rule(render('', '', [])).detail}", where=where
                )
            warnings.append("lead left out and title shortened to fit")
            text = render(short_title, "", [])

    if url is None:
        warnings.append("no article URL: the post carries no link")
    elif url not in text:
        return RenderError(f"template social/{platform}.txt.j2 does not show the URL", where=where)

    image = _image(
        source.article, title, warnings, ALT_TEXT_LIMITS.get(platform, ALT_TEXT_GRAPHEMES)
    )
    card: LinkCard | None = None
    facets: list[dict[str, Any]] = []
    if platform == "bluesky":
        facets = bluesky_facets(text)
    if platform in CARD_PLATFORMS:
        if url is None:
            warnings.append("no link card: the article has no URL")
        else:
            card = LinkCard(
                uri=url,
                title=title,
                description=source.card_description(),
                image_url=image.url if image else None,
            )
    return PostRendition(
        platform=platform,
        text=text,
        length=rule.count(text),
        limit=rule.limit,
        link=url,
        card=card,
        image=image,
        facets=facets,
        warnings=warnings,
        thread=replies,
    )


def _tidy(text: str) -> str:
    """A rendered post without blank lines at its ends, trailing spaces, or more than one
    blank line in a row (what an empty section of the template leaves)."""
    lines = (line.rstrip() for line in text.strip().splitlines())
    return str(_BLANK_LINES.sub("\n\n", "\n".join(lines)))


# What str.splitlines() splits at.
_LINE_SPLITTERS = re.compile("[\n\r\v\f\x1c-\x1e\x85\u2028\u2029]")


def _keeps_lines(value: str) -> bool:
    """Whether tidying commutes with putting ``value`` in the template: it holds no line
    break and has no space at either end, so it neither makes nor ends a blank line."""
    if _keeps_lines_quickly(value):
        return True
    return value == value.strip() and _LINE_SPLITTERS.search(value) is None


def _keeps_lines_quickly(value: str) -> bool:
    """A quicker test that implies _keeps_lines (isprintable() is False for every line
    break and every space but " "), for values filters derive on each fill. Not for an
    empty value, which could leave a blank line."""
    return value != "" and value.isprintable() and value[0] != " " and value[-1] != " "


class _PostTemplate:
    """Post texts from one template, as ``_tidy(template.render(...))`` gives them: the
    template runs (and is tidied) once per layout (which of title, lead and link are empty,
    how many hashtags), and each text of that layout is a substitution into it. Fitting a
    post tries many texts."""

    def __init__(self, template: Template, url: str, source: PostSource) -> None:
        self.template = template
        self.url = url
        self.shapes: dict[tuple[bool, bool, int], shapes.Shape | None] = {}
        # Every title, lead and hashtag asked for is the source's or made from it by cutting
        # at a space and adding "…" or a part number, which keeps _keeps_lines true: when
        # the source's own values pass it, only values filters derive need testing.
        self.given_keep_lines = source.keeps_lines and (not url or _keeps_lines(url))

    def __call__(self, title: str, lead: str, tags: Sequence[str]) -> str:
        hashtags = [f"#{tag}" for tag in tags]
        layout = (title != "", lead != "", len(hashtags))
        try:
            compiled = self.shapes[layout]
        except KeyError:
            compiled = self.shapes[layout] = shapes.shape(
                self.template,
                ("post", self.url != "", *layout),
                self._variables(title, lead, hashtags),
                _tidy,
            )
        if compiled is not None:
            values = [value for value in (title, lead, self.url) if value]
            values += hashtags
            if self.given_keep_lines or all(map(_keeps_lines_quickly, values)):
                text = compiled.fill(values, _keeps_lines_quickly)
                if text is not None:
                    return text
        return _tidy(self.template.render(self._variables(title, lead, hashtags)))

    def _variables(self, title: str, lead: str, hashtags: list[str]) -> dict[str, Any]:
        return {"title": title, "lead": lead, "url": self.url, "hashtags": hashtags}


def _thread(
    render: Callable[[str, str, Sequence[str]], str],
    fits: Callable[[str], bool],
    title: str,
    lead: str,
    tags: Sequence[str],
    bound: int,
    lead_cuts: list[int],
) -> tuple[str, list[str], list[str]] | str:
    """(first post, replies, hashtags kept): the lead split at words into numbered parts
    ("… 1/3"), the first with title, link and as many hashtags as fit, each reply within the
    limit too. Or why there can be no thread: a part that cannot hold a single word, or more
    than MAX_THREAD_PARTS parts needed."""
    kept = list(tags)
    while True:
        head = _longest_prefix(
            lead,
            lambda part: fits(render(title, f"{part} {_NUMBER_SLOT}", kept)),
            bound,
            lead_cuts,
        )
        # Hashtags give way to a first part that says something (they are dropped last to
        # first, as when shortening).
        if (head and graphemes(head) >= MIN_THREAD_HEAD_GRAPHEMES) or not kept:
            break
        kept.pop()
    if not head:
        return "not one word of the lead fits beside the title and the link"
    parts = [head]
    rest = lead[len(head) :].lstrip()
    while rest:
        if len(parts) == MAX_THREAD_PARTS:
            return f"the lead needs more than {MAX_THREAD_PARTS} parts"
        part = _longest_prefix(rest, lambda part: fits(f"{part} {_NUMBER_SLOT}"), bound)
        if not part:
            return f"a word of the lead does not fit a reply: {rest.split(None, 1)[0][:40]!r}"
        parts.append(part)
        rest = rest[len(part) :].lstrip()
    if len(parts) == 1:
        return render(title, lead, kept), [], kept
    total = len(parts)
    first = render(title, f"{parts[0]} 1/{total}", kept)
    replies = [f"{part} {number}/{total}" for number, part in enumerate(parts[1:], start=2)]
    return first, replies, kept


def _longest_prefix(
    text: str, accept: Callable[[str], bool], bound: int, points: list[int] | None = None
) -> str:
    """The longest accepted prefix of ``text`` that ends at a word boundary (never inside a
    word, URL, hashtag or emoji sequence), without an ellipsis; "" when none is accepted.
    ``points``: ``cut_points(text)``, when known."""
    window = grapheme_prefix(text, bound + 1)
    points = cut_points(window) if points is None else points_within(points, window)
    if window == text:
        points.append(len(text))
    best = ""
    low, high = 0, len(points) - 1
    while low <= high:
        middle = (low + high) // 2
        candidate = text[: points[middle]].rstrip()
        if candidate and accept(candidate):
            best = candidate
            low = middle + 1
        else:
            high = middle - 1
    return best


def _image(article: Article, title: str, warnings: list[str], alt_limit: int) -> Image | None:
    image = article.image
    if image is None or not is_http_url(image.url):
        return None
    credit = single_line(image.credit or "") or None
    if credit is None:
        warnings.append("no image credit")
    alt = single_line(image.alt or "")
    if not alt:
        warnings.append("no alt text: a fallback from the title and credit is used")
        alt = f"Image for the article: {title}" if title else "Image for the article"
        if credit:
            alt += f" (photo: {credit})"
    return Image(url=image.url, credit=credit, alt=truncate(alt, alt_limit))


def bluesky_facets(text: str) -> list[dict[str, Any]]:
    """Link facets for every URL and tag facets for every hashtag in ``text``, at UTF-8
    byte offsets (start inclusive, end exclusive), in order and never overlapping."""
    spans: list[tuple[int, int, dict[str, str]]] = []
    for start, end in find_urls(text):
        feature = {"$type": "app.bsky.richtext.facet#link", "uri": text[start:end]}
        spans.append((start, end, feature))
    for match in _HASHTAG_IN_TEXT.finditer(text):
        tag = match.group(1)
        if tag.isdigit() or graphemes(tag) > MAX_TAG_GRAPHEMES:
            continue
        spans.append(
            (match.start(), match.end(), {"$type": "app.bsky.richtext.facet#tag", "tag": tag})
        )
    spans.sort(key=lambda span: span[0])
    facets: list[dict[str, Any]] = []
    previous_end = -1
    for start, end, feature in spans:
        if start < previous_end:
            continue
        previous_end = end
        facets.append(
            {
                "index": {
                    "byteStart": utf8_length(text[:start]),
                    "byteEnd": utf8_length(text[:end]),
                },
                "features": [feature],
            }
        )
    return facets
