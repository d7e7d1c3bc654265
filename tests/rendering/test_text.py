"""Counting rules, shortening and flattening, checked against hand-counted tables."""

from __future__ import annotations

import re
from collections.abc import Callable
from html.parser import HTMLParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distributor.rendering.email import sanitise_body
from distributor.rendering.text import (
    _SIMPLE,
    _URL,
    MEASURES,
    _trim_url,
    bluesky_length,
    cut_points,
    find_urls,
    graphemes,
    html_to_text,
    is_http_url,
    mastodon_length,
    measure,
    points_within,
    shorten,
    single_line,
    truncate,
)

FAMILY = "👨\u200d👩\u200d👧\u200d👦"
SWISS_FLAG = "🇨🇭"
THUMB_MEDIUM = "👍🏽"
E_ACUTE_COMBINING = "e\u0301"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", 0),
        ("abc", 3),
        (FAMILY, 1),
        (SWISS_FLAG, 1),
        (SWISS_FLAG + "🇫🇷", 2),
        (THUMB_MEDIUM, 1),
        (E_ACUTE_COMBINING, 1),
        ("a\u0301\u0302\u0303", 1),
        ("日本語", 3),
        ("\r\n", 1),
    ],
)
def test_graphemes_counts_user_perceived_characters(text: str, expected: int) -> None:
    assert graphemes(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://example.com", 23),
        ("http://a.co", 23),
        ("see https://example.com/a/very/long/path/that/is/much/longer/than/23", 4 + 23),
        ("https://example.com.", 24),
        ("(https://example.com/page)", 25),
        ("https://en.wikipedia.org/wiki/Geneva_(city)", 23),
        ("example.com", 11),
        ("https://localhost/abc", 21),
        ("http://10.0.0.1/x", 17),
        ("@alice@mastodon.social", 6),
        ("Hi @alice@example.org!", 10),
        ("@bob", 4),
        (f"{FAMILY} https://x.org", 1 + 1 + 23),
        (f"{SWISS_FLAG}{E_ACUTE_COMBINING}日本", 4),
        ("a https://x.org b https://y.org", 1 + 1 + 23 + 3 + 23),
    ],
)
def test_mastodon_length_counts_urls_as_23_and_mentions_without_domain(
    text: str, expected: int
) -> None:
    assert mastodon_length(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://example.com", (19, 19)),
        ("abc", (3, 3)),
        (FAMILY, (1, 25)),
        (SWISS_FLAG, (1, 8)),
        (THUMB_MEDIUM, (1, 8)),
        (E_ACUTE_COMBINING, (1, 3)),
        ("é", (1, 2)),
        ("日本語", (3, 9)),
    ],
)
def test_bluesky_length_counts_graphemes_and_utf8_bytes(
    text: str, expected: tuple[int, int]
) -> None:
    assert bluesky_length(text) == expected


def test_bluesky_rejects_a_text_under_300_graphemes_but_over_3000_bytes() -> None:
    result = measure("bluesky", FAMILY * 150)
    assert result.length == 150
    assert not result.fits
    assert "3750/3000" in result.detail


def test_bluesky_accepts_300_cjk_graphemes() -> None:
    result = measure("bluesky", "日" * 300)
    assert (result.length, result.limit, result.fits) == (300, 300, True)


def test_mastodon_fits_a_long_url_that_counts_only_23() -> None:
    text = "x" * 476 + " https://example.com/" + "p" * 600
    assert measure("mastodon", text).fits
    assert measure("mastodon", "y" + text).fits is False


def test_measure_names_known_platforms_for_an_unknown_one() -> None:
    with pytest.raises(ValueError, match="bluesky"):
        measure("myspace", "hi")


def test_every_platform_has_a_measure() -> None:
    assert {"mastodon", "bluesky", "outbox"} <= MEASURES.keys()


@pytest.mark.parametrize(
    "title",
    [
        "one\r\ntwo",
        "one\rtwo",
        "one\ntwo",
        "one\u2028two",
        "one\u2029two",
        "one\x85two",
        "one\x0btwo",
        "one\x0ctwo",
        "one\ttwo",
        "one \r\n\r\n  two",
    ],
)
def test_single_line_turns_every_line_break_into_one_space(title: str) -> None:
    assert single_line(title) == "one two"


def test_single_line_drops_control_characters_but_keeps_joiners() -> None:
    assert single_line(f"a\x00b\x1bc\x7f {FAMILY}") == f"abc {FAMILY}"


def test_truncate_cuts_at_a_word_and_marks_the_cut() -> None:
    assert truncate("Hello, wonderful world of things", 20) == "Hello, wonderful…"
    assert truncate("short", 20) == "short"


def test_truncate_never_splits_an_emoji_sequence() -> None:
    assert truncate(f"a {FAMILY}{FAMILY}{FAMILY} b", 4) == "a…"


def test_truncate_cuts_text_without_spaces_between_cjk_characters() -> None:
    assert truncate("日本語のテキストです", 5) == "日本語の…"


def test_cut_points_never_fall_inside_a_url_or_hashtag() -> None:
    text = "日本 https://x.org/日本語 #日本語"
    points = cut_points(text)
    assert points == [1, 2, text.index(" #")]


def test_truncate_does_not_glue_the_ellipsis_to_a_url() -> None:
    assert truncate("see https://example.org/page and more words", 32) == (
        "see https://example.org/page …"
    )


def test_html_to_text_separates_paragraphs_and_spells_out_links() -> None:
    html = (
        '<p>Read <a href="https://ishr.ch/a">our report</a> &amp; more.</p>\n'
        "<p>Second\n   paragraph<br>new line</p><script>alert(1)</script>"
        "<ul><li>one</li><li>two</li></ul>"
        '<p><a href="https://ishr.ch/b">https://ishr.ch/b</a></p>'
    )
    assert html_to_text(html) == (
        "Read our report (https://ishr.ch/a) & more.\n\n"
        "Second paragraph\nnew line\n\n"
        "- one\n\n- two\n\n"
        "https://ishr.ch/b"
    )


def test_html_to_text_leaves_template_syntax_alone() -> None:
    assert html_to_text("<p>{{ 7*7 }}</p>") == "{{ 7*7 }}"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://ishr.ch/a", True),
        ("http://ishr.ch", True),
        ("javascript:alert(1)", False),
        ("//ishr.ch/a", False),
        ("/relative", False),
        ("https://ishr.ch/a b", False),
        ("", False),
        (None, False),
    ],
)
def test_is_http_url_accepts_only_absolute_http_links(value: str | None, expected: bool) -> None:
    assert is_http_url(value) is expected


class _ReferenceExtractor(HTMLParser):
    """The obvious html_to_text, on the standard library's parser: the oracle the fast
    tokenizer must agree with."""

    BLOCKS = frozenset({"p", "h2", "h3", "h4", "ul", "ol", "li", "blockquote", "figure", "hr"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[str] = []
        self.current: list[str] = []
        self.links: list[tuple[str | None, int]] = []

    def flush(self) -> None:
        lines = (" ".join(line.split()) for line in "".join(self.current).split("\n"))
        block = "\n".join(line for line in lines if line)
        if block:
            self.blocks.append(block)
        self.current = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.BLOCKS:
            self.flush()
            if tag == "li":
                self.current.append("- ")
        elif tag == "br":
            self.current.append("\n")
        elif tag == "a":
            self.links.append((dict(attrs).get("href"), len(self.current)))

    def handle_endtag(self, tag: str) -> None:
        if tag in self.BLOCKS:
            self.flush()
        elif tag == "a" and self.links:
            href, start = self.links.pop()
            label = "".join(self.current[start:]).strip()
            if href and is_http_url(href) and href != label:
                self.current.append(f" ({href})" if label else href)

    def handle_data(self, data: str) -> None:
        self.current.append(data.replace("\n", " "))


def _reference_text(markup: str) -> str:
    extractor = _ReferenceExtractor()
    extractor.feed(markup)
    extractor.close()
    extractor.flush()
    return "\n\n".join(extractor.blocks)


_words = st.text(
    alphabet=st.sampled_from(list("ab <>&\"'\n\t\u00a0é—😀=/;#")), min_size=0, max_size=12
)
_links = st.sampled_from(
    ["https://ishr.ch/a?x=1&y=2", "http://example.org/p>q", "javascript:alert(1)", "/relative", ""]
)


@st.composite
def _email_bodies(draw: st.DrawFn, depth: int = 0) -> str:
    parts = []
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["text", "inline", "block", "link", "br"]))
        if kind == "text" or depth > 2:
            parts.append(draw(_words))
        elif kind == "br":
            parts.append("<br>")
        elif kind == "link":
            href, title = draw(_links), draw(_words)
            parts.append(f'<a title="{title}" href="{href}">{draw(_email_bodies(depth + 1))}</a>')
        else:
            tags = ["b", "em", "q"] if kind == "inline" else ["p", "li", "h2", "blockquote", "ul"]
            tag = draw(st.sampled_from(tags))
            parts.append(f"<{tag}>{draw(_email_bodies(depth + 1))}</{tag}>")
    return "".join(parts)


@settings(max_examples=300, deadline=None)
@given(_email_bodies())
def test_html_to_text_agrees_with_the_standard_library_parser_on_sanitised_bodies(
    body: str,
) -> None:
    sanitised = sanitise_body(body, "https://ishr.ch/news/a")
    assert html_to_text(sanitised) == _reference_text(sanitised)


_url_pieces = st.lists(
    st.sampled_from(
        [
            "http", "https", "HTTPS", "://", "a", ".", "com", "/", " ", "x", "é", "@", "#",
            "(", ")", "ſ", "s", "?", "1", "-", "\n", "…", "\xa0", "\x1c", "<", '"', "_",
            "xn--", ":80", "\t", "É", "K",
        ]
    ),
    max_size=30,
).map("".join)  # fmt: skip


def _urls_by_scanning_every_character(text: str) -> list[tuple[int, int]]:
    """find_urls as it was: the URL pattern tried at every character of the text."""
    spans = []
    for match in _URL.finditer(text):
        end = match.start() + len(_trim_url(match.group()))
        if end - match.start() > len("https://"):
            spans.append((match.start(), end))
    return spans


@settings(max_examples=2000, deadline=None)
@given(_url_pieces)
def test_find_urls_finds_what_a_scan_of_every_character_finds(text: str) -> None:
    assert find_urls(text) == _urls_by_scanning_every_character(text)


@pytest.mark.parametrize(
    "text",
    [
        "https://ishr.ch/a https://ishr.ch/b",
        "xhttps://ishr.ch/a",
        "see https://ishr.ch/a://b and http://x.org.",
        "HTTPS://ISHR.CH (https://en.wikipedia.org/wiki/Geneva_(city))",
        "httpſ://ishr.ch/a",
        "https://a https://ishr.ch",
    ],
)
def test_find_urls_agrees_with_the_full_scan_on_hand_picked_texts(text: str) -> None:
    assert find_urls(text) == _urls_by_scanning_every_character(text)


_words_and_spaces = st.lists(
    st.one_of(
        st.sampled_from(["a", "word", "longerword", "é", "Genève", ",", "—", "#tag", "(x)"]),
        st.sampled_from(["日本語", FAMILY, "https://ishr.ch/a", "e\u0301"]),
        st.sampled_from([" ", " ", "  "]),
    ),
    max_size=40,
).map("".join)


def _at_most(limit: int) -> Callable[[str], bool]:
    return lambda candidate: graphemes(candidate) <= limit


@settings(max_examples=300, deadline=None)
@given(text=_words_and_spaces, limit=st.integers(0, 80), data=st.data())
def test_shorten_gives_the_same_answer_wherever_the_search_starts(
    text: str, limit: int, data: st.DataObject
) -> None:
    near = data.draw(st.integers(-10, len(text) + 10), label="near")
    accept = _at_most(limit)
    assert shorten(text, accept, near=near) == shorten(text, accept)


@settings(max_examples=300, deadline=None)
@given(text=_words_and_spaces, limit=st.integers(0, 80), data=st.data())
def test_shorten_gives_the_same_answer_when_given_the_cut_points(
    text: str, limit: int, data: st.DataObject
) -> None:
    near = data.draw(st.none() | st.integers(-10, len(text) + 10), label="near")
    accept = _at_most(limit)
    points = cut_points(text)
    assert shorten(text, accept, points=points, near=near) == shorten(text, accept)


@settings(max_examples=300, deadline=None)
@given(text=_words_and_spaces.filter(bool), data=st.data())
def test_shorten_told_the_text_is_too_long_gives_what_it_finds_out_itself(
    text: str, data: st.DataObject
) -> None:
    accept = _at_most(data.draw(st.integers(0, graphemes(text) - 1), label="limit"))
    assert not accept(text)
    assert shorten(text, accept, too_long=True) == shorten(text, accept)


def _word_ends(text: str) -> list[int]:
    """Every whitespace character that follows a non-space one: where a simple text is cut."""
    return [match.start() for match in re.finditer(r"(?<=\S)\s", text)]


_one_line_texts = st.tuples(
    st.lists(st.sampled_from(["a", "word", "Genève", "naïve", "—", "’", ",", "x-y", "ß"])),
    st.booleans(),
).map(lambda words_and_end: " ".join(words_and_end[0]) + (" " if all(words_and_end) else ""))


@settings(max_examples=300, deadline=None)
@given(_one_line_texts)
def test_cut_points_of_a_one_line_text_are_its_spaces_after_a_word(text: str) -> None:
    assert cut_points(text) == _word_ends(text)


_simple_texts = st.lists(
    st.sampled_from(["a", "word", " ", "  ", "\t", "\n", "\xa0", "é", "—", ",", "’"]), max_size=25
).map("".join)


@settings(max_examples=300, deadline=None)
@given(_simple_texts)
def test_cut_points_of_any_simple_text_are_its_whitespace_after_a_word(text: str) -> None:
    assert _SIMPLE.fullmatch(text)
    assert cut_points(text) == _word_ends(text)


@settings(max_examples=300, deadline=None)
@given(text=_simple_texts, data=st.data())
def test_the_cut_points_within_a_simple_prefix_are_those_of_the_prefix(
    text: str, data: st.DataObject
) -> None:
    prefix = text[: data.draw(st.integers(0, len(text)), label="length")]
    assert points_within(cut_points(text), prefix) == cut_points(prefix)


@settings(max_examples=300, deadline=None)
@given(text=st.one_of(_words_and_spaces, _simple_texts), data=st.data())
def test_the_cut_points_within_a_prefix_lie_in_it_and_are_cut_points_of_the_text(
    text: str, data: st.DataObject
) -> None:
    prefix = text[: data.draw(st.integers(0, len(text)), label="length")]
    points = cut_points(text)
    within = points_within(points, prefix)
    assert all(point < len(prefix) for point in within)
    assert set(within) <= set(points)
    assert within == [point for point in points if point < len(prefix)]


def test_html_to_text_skips_a_script_whose_content_looks_like_markup() -> None:
    markup = '<p>a</p><script>var s = "<p>hidden</p>";</script><p>b</p>'
    assert html_to_text(markup) == "a\n\nb"


def test_text_after_a_script_still_becomes_its_own_block() -> None:
    markup = "<p>a</p><script>if (1 < 2) { x = '<a href=\"https://x.org\">'; }</script>after"
    assert html_to_text(markup) == "a\n\nafter"


def test_html_to_text_skips_a_style_block_up_to_its_end_tag() -> None:
    markup = "<p>a</p><STYLE>p::after { content: '</p><p>hidden'; }</style ><p>b</p>"
    assert html_to_text(markup) == "a\n\nb"


def test_markup_inside_a_script_neither_ends_nor_starts_a_block() -> None:
    markup = "<p>a <script>document.write('</p><p>')</script>b</p><p>c</p>"
    assert html_to_text(markup) == "a b\n\nc"


def test_a_script_that_is_never_closed_hides_the_rest_of_the_markup() -> None:
    assert html_to_text("<p>a</p><script>never closed <p>b</p>") == "a"
