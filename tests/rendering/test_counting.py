"""Every network counts by its own rule: one table, one measure() for all of them."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distributor.rendering import measure, x_text
from distributor.rendering.counting import MEASURES, linkedin_length, threads_length, utf16_length
from distributor.rendering.social import SOCIAL_PLATFORMS
from distributor.rendering.x_text import parse_tweet, python_pattern, x_length, x_url_spans
from tests.rendering.tweet_corpus import corpus, random_unicode

FAMILY = "👨\u200d👩\u200d👧\u200d👦"  # 7 code points, 11 UTF-16 units, 25 UTF-8 bytes
URL = "https://ishr.ch/latest-updates/a-long-address-that-goes-on-and-on-and-on/"


def test_every_social_platform_has_a_counting_rule() -> None:
    assert set(SOCIAL_PLATFORMS) <= MEASURES.keys()


def test_an_unknown_platform_is_refused_with_the_known_ones_named() -> None:
    with pytest.raises(ValueError, match=r"unknown platform 'myspace'; known: .*telegram"):
        measure("myspace", "hi")


@pytest.mark.parametrize(
    ("text", "weighted"),
    [
        ("hello", 5),
        ("日本語", 6),  # CJK weighs 2
        ("한국어", 6),
        ("😷", 2),
        (FAMILY, 2),  # a ZWJ sequence is one emoji
        ("🇩🇪", 2),  # a flag is one emoji
        ("👍🏽", 2),  # so is a skin tone
        ("e\u0301", 1),  # NFC first: é
        ("…", 2),  # the ellipsis is outside the weight-1 ranges
        ("“quoted”", 8),  # curly quotes are inside them
        (URL, 23),
        ("see ishr.ch now", 4 + 23 + 4),  # a bare domain is a URL too
        ("see example.invalidtld now", 26),  # not a known TLD: counted in full
        ("line\r\nbreak", 11),
        ("a" * 280, 280),
    ],
)
def test_x_weighs_text_as_twitter_text_v3_does(text: str, weighted: int) -> None:
    assert x_length(text) == weighted


def test_x_fits_280_weighted_characters_and_not_281() -> None:
    assert measure("x", "a" * 280).fits
    assert not measure("x", "a" * 281).fits
    assert measure("x", "日" * 140).fits
    assert not measure("x", "日" * 141).fits


def test_x_url_spans_are_code_point_offsets_into_the_text() -> None:
    text = f"日本語 {URL} and ishr.ch."
    spans = x_url_spans(text)
    assert [text[start:end] for start, end in spans] == [URL, "ishr.ch"]


def test_a_javascript_end_anchor_matches_only_at_the_very_end_in_python_too() -> None:
    pattern = python_pattern("[-_.\\/]$", "")
    assert pattern.search("a.")
    assert not pattern.search("a.\n")  # Python's own $ would match before the newline


@pytest.mark.parametrize(
    ("text", "length"),
    [
        ("plain", 5),
        ("a#b", 4),  # the reserved # goes out as \#
        ("(UN) @ISHR_*", 12 + 5),  # ( ) @ _ * escaped
        ("😷", 2),  # UTF-16 units
    ],
)
def test_linkedin_counts_the_escaped_commentary(text: str, length: int) -> None:
    assert linkedin_length(text) == length


def test_linkedin_fits_3000_and_escapes_push_a_post_over() -> None:
    assert measure("linkedin", "a" * 3000).fits
    assert not measure("linkedin", "a" * 2999 + "#").fits


def test_facebook_allows_63206_characters() -> None:
    assert measure("facebook", "a" * 63206).fits
    assert not measure("facebook", "a" * 63207).fits
    assert measure("facebook", "😷").length == 2


@pytest.mark.parametrize(
    ("text", "length"),
    [
        ("abc", 3),
        ("日本語", 3),
        ("é", 1),
        ("😷", 4),  # emoji count as their UTF-8 bytes
        (FAMILY, 25),
        ("🇨🇭", 8),
        ("a😷b", 6),
    ],
)
def test_threads_counts_emoji_as_utf8_bytes(text: str, length: int) -> None:
    assert threads_length(text) == length


def test_threads_fits_500_characters_and_at_most_five_links() -> None:
    assert measure("threads", "a" * 500).fits
    assert not measure("threads", "a" * 501).fits
    five = " ".join(f"https://ishr.ch/{n}" for n in range(5))
    six = " ".join(f"https://ishr.ch/{n}" for n in range(6))
    assert measure("threads", five).fits
    refused = measure("threads", six)
    assert not refused.fits
    assert "6/5 links" in refused.detail


@pytest.mark.parametrize(
    ("text", "units"),
    [("abc", 3), ("é", 1), ("😷", 2), (FAMILY, 11), ("🇨🇭", 4), ("日本", 2)],
)
def test_telegram_counts_utf16_code_units(text: str, units: int) -> None:
    assert utf16_length(text) == units
    assert measure("telegram", text).length == units


def test_telegram_fits_4096_units_and_an_emoji_costs_two() -> None:
    assert measure("telegram", "a" * 4096).fits
    assert not measure("telegram", "a" * 4095 + "😷").fits


@pytest.mark.parametrize(
    ("platform", "limit"),
    [
        ("x", 280),
        ("mastodon", 500),
        ("bluesky", 300),
        ("linkedin", 3000),
        ("facebook", 63206),
        ("threads", 500),
        ("telegram", 4096),
    ],
)
def test_each_platform_reports_its_own_limit(platform: str, limit: int) -> None:
    assert measure(platform, "hi").limit == limit


def test_importing_text_alone_already_knows_every_network() -> None:
    # editing.py and review.py import measure from text.py; the package import registers all.
    script = "from distributor.rendering.text import measure; print(measure('x', '日本').length)"
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "4"


def test_x_length_is_the_weighted_length_of_the_full_walk_for_every_corpus_text() -> None:
    disagreements = [
        text
        for text in corpus() + random_unicode()
        if x_length(text) != parse_tweet(text).weighted_length
    ]
    assert disagreements == []


_x_pieces = st.lists(
    st.sampled_from(
        [
            "a", " ", "\n", "…", "’", "é", "e\u0301", "日本", "https://ishr.ch/a", "ishr.ch", "#",
            "1", "\ufe0f", "\u20e3", "😀", "\u200d", "👍🏽", ".", "\x1c", "\u180e", "\u3000", "©",
        ]
    ),
    max_size=30,
).map("".join)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(_x_pieces)
def test_x_length_is_the_weighted_length_of_the_full_walk(text: str) -> None:
    assert x_length(text) == parse_tweet(text).weighted_length


_SPACED = ["\u3000", "\xa0", "\t", ".", "a", " ", "é", "\n", "\u2028", "\x0b", "\x85"]
# Space to the URL pattern but not to str.split(), or the other way round.
_DISPUTED = ["\x1c", "\x1f", "\u180e"]
_runs = st.one_of(
    st.lists(st.sampled_from(_SPACED), max_size=30).map("".join),
    st.lists(st.sampled_from(_SPACED + _DISPUTED), max_size=30).map("".join),
)


@settings(max_examples=300, deadline=None)
@given(_runs)
def test_the_runs_with_a_dot_are_those_the_pattern_finds(units: str) -> None:
    assert list(x_text._runs_with_dot(units)) == [
        match.span() for match in x_text._RUN_WITH_DOT.finditer(units)
    ]
