"""Counting, shortening and flattening text the way each destination sees it.

Every platform counts differently (reference/platform-apis.md §0): Mastodon counts grapheme
clusters with each http(s) URL as 23 and ``@user@domain`` as ``@user``; Bluesky counts
graphemes and UTF-8 bytes, URLs in full. Python's ``len`` matches neither.
"""

from __future__ import annotations

import html
import re
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass

import regex

ELLIPSIS = "…"
MASTODON_URL_LENGTH = 23

_GRAPHEME = regex.compile(r"\X")
# Latin text and common punctuation: one code point is one grapheme and nothing joins, so
# counting needs no segmentation (the slowest step of rendering otherwise). No CR (CRLF is one
# grapheme), no combining marks (U+0300…), no joiners, no CJK or Thai.
_SIMPLE = re.compile(r"[\t\n\x20-\x7e\u00a0-\u02ff\u2010-\u2027\u2030-\u205e\u20ac]*+")

# Close to twitter-text, which Mastodon uses: a URL needs an http(s) scheme and a host with a
# letter TLD (twitter-text links neither "localhost" nor bare IPs, and those count in full), may
# not be glued to a preceding word, and does not end in sentence punctuation.
_URL_BODY = (
    r"https?://(?:[\p{L}\p{N}_-]+\.)+(?:\p{L}{2,}|xn--[a-z0-9-]+)(?::\d{1,5})?"
    r"(?:[/?#][^\s<>\"\u2028\u2029]*)?(?![\p{L}\p{N}_.-]*[\p{L}\p{N}_-])"
)
_URL = regex.compile(r"(?<![\p{L}\p{N}@$#])" + _URL_BODY, regex.IGNORECASE)
# The same pattern for a URL in a run of printable ASCII (where \p{L} is [A-Za-z], \p{N} is
# [0-9] and no space can hide), in the standard re module: several times quicker.
_ASCII_URL = re.compile(
    r"(?<![A-Za-z0-9@$#])https?://(?:[A-Za-z0-9_-]+\.)+(?:[A-Za-z]{2,}|xn--[a-z0-9-]+)"
    r"(?::[0-9]{1,5})?(?:[/?#][!#-;=?-~]*)?(?![A-Za-z0-9_.-]*[A-Za-z0-9_-])",
    re.IGNORECASE,
)
_PRINTABLE_ASCII_RUN = re.compile(r"[!-~]*")
_ASCII_SPACES = frozenset("\t\n\v\f\r ")
_URL_TAIL = ".,:;!?'\"*…‚‘’“”]}>"
_MENTION = regex.compile(
    r"(?<![=/\w])@(?P<user>[a-z0-9_]+(?:[.-]+[a-z0-9_]+)*)(?:@[\w]+(?:[.-]+[\w]+)*)?",
    regex.IGNORECASE,
)
# Patterns without Unicode properties use the standard re module: several times faster than
# ``regex`` on the short strings every render flattens.
_HTTP_URL = re.compile(r"https?://[^\s/?#]+[^\s]*", re.IGNORECASE)

# Scripts written without spaces between words: there, a grapheme boundary is a word boundary.
_UNSPACED_SCRIPT = regex.compile(
    r"[\p{Han}\p{Hiragana}\p{Katakana}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}\p{Tibetan}]"
)
_LINE_BREAKS = re.compile(r"\r\n|[\r\n\v\f\x1c-\x1e\x85\u2028\u2029]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # Unicode category Cc, exactly
_SPACES = re.compile(r"\s+")
_WORD_END = re.compile(r"(?<=\S)\s")
_NEEDS_FLATTENING = re.compile(r"[^\S ]|  |[\x00-\x1f\x7f-\x9f]")
_TRAILING_PUNCTUATION = ",;:-–—([{/\\"


def graphemes(s: str) -> int:
    """Grapheme clusters (user-perceived characters), as Mastodon and Bluesky count them."""
    if s.isascii():  # every ASCII character is a cluster of its own, but CR LF is one
        return len(s) - s.count("\r\n")
    if _SIMPLE.fullmatch(s):
        return len(s)
    return len(_GRAPHEME.findall(s))


def utf8_length(s: str) -> int:
    return len(s.encode("utf-8"))


def find_urls(text: str) -> list[tuple[int, int]]:
    """(start, end) code-point spans of the http(s) URLs a platform would link.

    What ``_URL.finditer(text)`` finds, but tried only where a URL can start: four or five
    characters ("http", "https") before each "://" (the Unicode-property pattern is slow to
    try at every character of a post)."""
    spans: list[tuple[int, int]] = []
    scanned = 0  # where the last match ended: finditer resumes there
    separator = text.find("://")
    while separator != -1:
        for start in (separator - 5, separator - 4):
            if start < scanned:
                continue
            match = _url_at(text, start)
            if match is not None:
                scanned = match.end()
                end = start + len(_trim_url(match.group()))
                if end - start > len("https://"):
                    spans.append((start, end))
                break
        separator = text.find("://", max(separator + 3, scanned))
    return spans


def _url_at(text: str, start: int) -> re.Match[str] | regex.Match[str] | None:
    """``_URL.match(text, start)``, by the ASCII pattern when everything it can look at
    (the character before, the run up to the next space) is printable ASCII."""
    if start < 0:
        return None
    end = _PRINTABLE_ASCII_RUN.match(text, start).end()  # type: ignore[union-attr]
    if (end == len(text) or text[end] in _ASCII_SPACES) and (
        start == 0 or text[start - 1].isascii()
    ):
        return _ASCII_URL.match(text, start)
    return _URL.match(text, start)


def _trim_url(url: str) -> str:
    while url and url[-1] in _URL_TAIL + ")":
        # A closing parenthesis belongs to the URL only when it closes one opened inside it,
        # as in Wikipedia links.
        if url[-1] == ")" and url.count("(") >= url.count(")"):
            break
        url = url[:-1]
    return url


def mastodon_length(text: str) -> int:
    """Length as Mastodon's StatusLengthValidator counts it."""
    pieces: list[str] = []
    position = 0
    url_spans = find_urls(text)
    for start, end in url_spans:
        pieces.append(_shorten_mentions(text[position:start]))
        pieces.append("x" * MASTODON_URL_LENGTH)
        position = end
    pieces.append(_shorten_mentions(text[position:]))
    return graphemes("".join(pieces))


def _shorten_mentions(text: str) -> str:
    if "@" not in text:
        return text
    return str(_MENTION.sub(lambda m: "@" + m.group("user"), text))


def bluesky_length(text: str) -> tuple[int, int]:
    """(graphemes, UTF-8 bytes): Bluesky enforces both."""
    return graphemes(text), utf8_length(text)


def _remembering(count: Callable[[str], int]) -> Callable[[str], int]:
    counted: dict[str, int] = {}

    def remembered(text: str) -> int:
        length = counted.get(text)
        if length is None:
            length = counted[text] = count(text)
        return length

    return remembered


@dataclass(frozen=True)
class Measurement:
    platform: str
    length: int
    limit: int
    fits: bool
    detail: str


@dataclass(frozen=True)
class Measure:
    """One platform's counting rule and limits."""

    platform: str
    limit: int
    count: Callable[[str], int]
    unit: str
    byte_limit: int | None = None

    def remembering(self) -> Measure:
        """This rule, remembering every count it makes: fitting a post measures some texts
        more than once (the one that fits is measured again for its length)."""
        copy = object.__new__(type(self))
        copy.__dict__.update(self.__dict__)
        copy.__dict__["count"] = _remembering(self.count)
        return copy

    def fits(self, text: str) -> bool:
        """``self(text).fits`` without the report: fitting probes many candidates."""
        if self.count(text) > self.limit:
            return False
        return self.byte_limit is None or utf8_length(text) <= self.byte_limit

    def __call__(self, text: str) -> Measurement:
        length = self.count(text)
        detail = f"{length}/{self.limit} {self.unit}"
        fits = length <= self.limit
        if self.byte_limit is not None:
            size = utf8_length(text)
            detail += f", {size}/{self.byte_limit} UTF-8 bytes"
            fits = fits and size <= self.byte_limit
        return Measurement(self.platform, length, self.limit, fits, detail)


MEASURES: dict[str, Measure] = {
    "mastodon": Measure("mastodon", 500, mastodon_length, "characters (each URL counts 23)"),
    "outbox": Measure("outbox", 500, mastodon_length, "characters (each URL counts 23)"),
    "bluesky": Measure("bluesky", 300, graphemes, "graphemes", byte_limit=3000),
}


def measure(platform: str, text: str) -> Measurement:
    """Measure ``text`` by ``platform``'s rule; ValueError names the known platforms."""
    try:
        rule = MEASURES[platform]
    except KeyError:
        known = ", ".join(sorted(MEASURES))
        raise ValueError(f"unknown platform {platform!r}; known: {known}") from None
    return rule(text)


def is_http_url(value: str | None) -> bool:
    """True for an absolute http(s) URL without whitespace: the only links we publish."""
    return bool(value) and _HTTP_URL.fullmatch(value or "") is not None


def single_line(text: str) -> str:
    """Every kind of line break (CRLF, lone CR, NEL, U+2028…) becomes a space, control
    characters go, runs of whitespace collapse: safe for a header or a one-line title."""
    # isprintable() is False for every line break, tab, control and non-ASCII space: a fast
    # "nothing to flatten" for ordinary titles.
    if (text.isprintable() and "  " not in text) or _NEEDS_FLATTENING.search(text) is None:
        return text.strip()
    text = _SPACES.sub(" ", _LINE_BREAKS.sub(" ", text))
    return str(_SPACES.sub(" ", _CONTROL.sub("", text))).strip()


def cut_points(text: str) -> list[int]:
    """Code-point offsets where ``text`` may be cut without splitting a word, URL, hashtag
    or grapheme cluster, in increasing order (``len(text)`` excluded)."""
    if _SIMPLE.fullmatch(text):
        if _only_single_spaces(text):
            # A one-line text (single_line's kind): every space ends a word.
            points: list[int] = []
            position = -1
            for word in text.split(" ")[:-1]:
                position += len(word) + 1
                points.append(position)
            return points
        return [match.start() for match in _WORD_END.finditer(text)]
    points = []
    token_start = 0
    previous: str | None = None
    for match in _GRAPHEME.finditer(text):
        cluster, start = match.group(), match.start()
        if cluster.isspace():
            if previous is not None and not previous.isspace():
                points.append(start)
        else:
            if previous is None or previous.isspace():
                token_start = start
            elif _splits_unspaced_script(text, token_start, previous, cluster):
                points.append(start)
        previous = cluster
    return points


def _only_single_spaces(text: str) -> bool:
    """For a text of _SIMPLE characters: whether its only spaces are single " " between
    words (so each is a cut point)."""
    return not (
        "  " in text or "\t" in text or "\n" in text or "\xa0" in text or text.startswith(" ")
    )


def points_within(points: list[int], prefix: str) -> list[int]:
    """The cut points of a text (``cut_points(text)``) that lie inside its ``prefix``: as
    good as ``cut_points(prefix)``, and a cut there never splits a URL the prefix ends in."""
    return points[: bisect_left(points, len(prefix))]


def _splits_unspaced_script(text: str, token_start: int, before: str, after: str) -> bool:
    if text.startswith(("#", "@"), token_start) or _URL.match(text, token_start):
        return False
    return bool(_UNSPACED_SCRIPT.match(before) or _UNSPACED_SCRIPT.match(after))


def ellipsize(prefix: str) -> str:
    """Close a cut-off prefix with an ellipsis, never glued to a URL (it would join the link)."""
    prefix = prefix.rstrip()
    while prefix and prefix[-1] in _TRAILING_PUNCTUATION:
        prefix = prefix[:-1].rstrip()
    if not prefix:
        return ""
    last_token = prefix.rsplit(None, 1)[-1]
    separator = " " if "://" in last_token and _URL.match(last_token) else ""
    return prefix + separator + ELLIPSIS


def grapheme_prefix(text: str, count: int) -> str:
    """The first ``count`` grapheme clusters of ``text``."""
    if len(text) <= count:
        return text
    if _SIMPLE.fullmatch(text, 0, count + 1):
        return text[:count]  # the next code point starts a cluster: no joiner, mark or LF
    for index, match in enumerate(_GRAPHEME.finditer(text)):
        if index == count:
            return text[: match.start()]
    return text


def shorten(
    text: str,
    accept: Callable[[str], bool],
    *,
    bound: int | None = None,
    points: list[int] | None = None,
    near: int | None = None,
    too_long: bool = False,
) -> str | None:
    """``text`` itself if accepted, else the longest accepted cut of it ending in ``…``;
    None when not even the first word fits. ``accept`` is checked on every answer.

    ``bound``: no accepted answer is longer than this many graphemes, so cut points past it
    need not be computed (long leads made this the slowest step of rendering). ``points``:
    ``cut_points(text)``, when the caller shortens the same text more than once. ``near``:
    about how many code points the answer keeps, when the caller can tell: the search starts
    there and widens, so a good guess costs two tries instead of a binary search's six or
    more (every try renders and measures a whole post); a bad one only costs more tries.
    ``too_long``: the caller knows ``text`` itself is not accepted."""
    if not too_long and accept(text):
        return text
    if bound is not None:
        text = grapheme_prefix(text, bound + 1)
    points = cut_points(text) if points is None else points_within(points, text)
    best: str | None = None
    best_index = -1

    def higher(index: int) -> bool:
        """Whether the answer lies above ``index`` (its cut is accepted, or empty)."""
        nonlocal best, best_index
        candidate = ellipsize(text[: points[index]])
        if not candidate:
            return True
        if not accept(candidate):
            return False
        if index > best_index:
            best, best_index = candidate, index
        return True

    low, high = 0, len(points) - 1
    if near is not None and low <= high:
        # Widen from the guess in doubling steps until the answer is bracketed.
        guess = min(max(bisect_left(points, near + 1) - 1, low), high)
        step = 1
        if higher(guess):
            low = guess + 1
            while low <= high:
                index = min(guess + step, high)
                if higher(index):
                    low, guess, step = index + 1, index, step * 2
                else:
                    high = index - 1
                    break
        else:
            high = guess - 1
            while low <= high:
                index = max(guess - step, low)
                if higher(index):
                    low = index + 1
                    break
                high, guess, step = index - 1, index, step * 2
    # Binary search over the cut points left, building only the candidates it probes.
    while low <= high:
        middle = (low + high) // 2
        if higher(middle):
            low = middle + 1
        else:
            high = middle - 1
    return best


def truncate(text: str, max_graphemes: int, *, points: list[int] | None = None) -> str:
    """At most ``max_graphemes``, cut at a word and marked with ``…`` when cut. ``points``:
    ``cut_points(text)``, when known."""
    return (
        shorten(
            text,
            lambda candidate: graphemes(candidate) <= max_graphemes,
            bound=max_graphemes,
            points=points,
            near=max_graphemes - 1,  # and the "…"
        )
        or ""
    )


_BLOCKS = frozenset(
    {
        "p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "blockquote",
        "figure", "figcaption", "table", "tr", "section", "article", "header", "footer", "pre",
        "hr", "dl", "dt", "dd", "address",
    }
)  # fmt: skip
_SKIPPED = frozenset({"script", "style", "head", "title", "template"})


# Markup as a stream of tags and text. The body is nh3 output (well-formed, a small tag set),
# but this stays correct for any HTML: quoted attribute values may hold ">", a "<" that opens
# no tag is text, and script/style content is skipped up to its end tag as browsers do.
_MARKUP = re.compile(
    r"<(?:(/?)([A-Za-z][^\s/>]*)((?:\"[^\"]*\"|'[^']*'|[^'\">])*)>|!--.*?(?:-->|\Z)|[!?][^>]*>)"
    r"|([^<]+|<)",
    re.DOTALL,
)
_HREF = re.compile(r"""\bhref\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+))""", re.IGNORECASE)
_RAW_TEXT = frozenset({"script", "style"})


def _block_text(parts: list[str]) -> str:
    text = "".join(parts)
    if "  " not in text and text.isprintable():
        return text.strip()  # only single spaces (isprintable() is False for any other)
    if "\n" not in text:  # no <br>: the usual paragraph
        return " ".join(text.split())
    lines = (" ".join(line.split()) for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def html_to_text(markup: str) -> str:
    """Plain text for an email's text part: blocks separated by blank lines, links as
    ``text (url)``, list items as ``- item``; script, style and head content left out."""
    blocks: list[str] = []
    current: list[str] = []
    links: list[tuple[str | None, int]] = []
    skipping = 0
    position: int | None = 0
    while position is not None:
        start, position = position, None
        # One scan to the end, unless raw text (script, style) has to be skipped to its end
        # tag, which the token pattern cannot do: the scan then resumes after it.
        for match in _MARKUP.finditer(markup, start):
            closing, name, attributes, data = match.groups()
            if data is not None:
                if not skipping:
                    current.append(html.unescape(data).replace("\n", " "))
                continue
            if name is None:
                continue  # a comment, doctype or processing instruction
            tag = name.lower()
            if tag in _BLOCKS:
                if current:
                    block = _block_text(current)
                    if block:
                        blocks.append(block)
                    current = []
                if tag == "li" and not closing and not attributes.endswith("/"):
                    current.append("- ")
            elif tag == "br":
                current.append("\n")
            elif tag in _SKIPPED:
                if closing:
                    skipping = max(0, skipping - 1)
                elif tag in _RAW_TEXT:
                    end = re.compile(rf"</{tag}\s*>", re.IGNORECASE).search(markup, match.end())
                    if end is not None:
                        position = end.end()
                    break
                elif not attributes.endswith("/"):
                    skipping += 1
            elif tag == "a":
                if not closing:
                    href = _HREF.search(attributes)
                    value = (
                        next((g for g in href.groups() if g is not None), None) if href else None
                    )
                    links.append(
                        (html.unescape(value) if value is not None else None, len(current))
                    )
                elif links:
                    target, begin = links.pop()
                    label = "".join(current[begin:]).strip()
                    if target and is_http_url(target) and target != label:
                        current.append(f" ({target})" if label else target)
    if current:
        block = _block_text(current)
        if block:
            blocks.append(block)
    return "\n\n".join(blocks)
