"""A long group of literal words rewritten as a trie matches exactly what the group matched,
and the same way: the same spans, the same alternative taken where several could match."""

from __future__ import annotations

import re
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distributor.rendering import twitter_data
from distributor.rendering.literal_tries import _LITERAL_GROUP, MIN_WORDS, with_tries

Outcome = list[tuple[tuple[int, int], tuple[str | None, ...]] | None]


def _word_groups() -> list[tuple[str, ...]]:
    """The groups of literal words in X's URL pattern: every top-level domain, in its order."""
    source, _ = twitter_data.EXTRACT_URL
    return [tuple(match.group(1).split("|")) for match in _LITERAL_GROUP.finditer(source)]


WORD_GROUPS = _word_groups()
ALL_WORDS = [word for words in WORD_GROUPS for word in words]
# What may follow the group: nothing, anything (which shows the alternative taken), the
# pattern's own look-ahead, and a character some words continue with.
CONTINUATIONS = ["", "(.*)", "(?=[^0-9a-zA-Z@+-]|$)", "m", r"(\w?)\b"]


def _outcome(pattern: re.Pattern[str], text: str) -> Outcome:
    found = (pattern.match(text), pattern.fullmatch(text), pattern.search(text))
    return [(match.span(), match.groups()) if match else None for match in found]


@cache
def _original_and_trie(
    words: tuple[str, ...], continuation: str
) -> tuple[re.Pattern[str], re.Pattern[str]]:
    original = f"(?:{'|'.join(words)}){continuation}"
    rewritten = with_tries(original, re.IGNORECASE)
    assert rewritten != original  # else there is nothing to compare
    return re.compile(original, re.IGNORECASE), re.compile(rewritten, re.IGNORECASE)


def test_the_url_pattern_has_long_groups_of_words_to_rewrite() -> None:
    assert len(WORD_GROUPS) == 2
    assert all(len(words) >= MIN_WORDS for words in WORD_GROUPS)


@pytest.mark.parametrize("continuation", CONTINUATIONS)
@pytest.mark.parametrize("words", WORD_GROUPS, ids=["generic", "country"])
def test_the_trie_matches_every_word_its_prefixes_and_continuations_as_the_group_does(
    words: tuple[str, ...], continuation: str
) -> None:
    original, trie = _original_and_trie(words, continuation)
    for word in words:
        for text in (word, word + "x", word + "m", word + ".com", word[:-1], word.upper()):
            assert _outcome(trie, text) == _outcome(original, text), text


_letters = sorted({char for word in ALL_WORDS for char in word})
_texts = st.lists(
    st.one_of(st.sampled_from(ALL_WORDS), st.sampled_from([*_letters, ".", " ", "-", "K", "ſ"])),
    max_size=6,
).map("".join)


@settings(max_examples=200, deadline=None)
@given(
    words=st.sampled_from(WORD_GROUPS),
    continuation=st.sampled_from(CONTINUATIONS),
    text=_texts,
)
def test_the_trie_matches_any_text_as_the_group_does(
    words: tuple[str, ...], continuation: str, text: str
) -> None:
    original, trie = _original_and_trie(words, continuation)
    assert _outcome(trie, text) == _outcome(original, text)


ORDERED = "(?:co|com|c|ca|cb|cd|ce|cf|cg|ch)"


def _matched(pattern: str, text: str) -> str | None:
    match = re.match(pattern, text)
    return match.group() if match else None


def test_the_trie_takes_the_first_word_that_matches_as_the_group_does() -> None:
    rewritten = with_tries(ORDERED, 0)
    assert rewritten != ORDERED
    assert _matched(ORDERED, "com") == _matched(rewritten, "com") == "co"


def test_the_trie_takes_a_later_word_when_only_it_lets_the_rest_match() -> None:
    rewritten = with_tries(ORDERED + "m", 0)
    assert rewritten != ORDERED + "m"
    assert _matched(ORDERED + "m", "com") == _matched(rewritten, "com") == "com"


@pytest.mark.parametrize(
    "pattern",
    [
        "(?:k|K|a|b|c|d|e|f|g|h)",
        "(?:ak|aK|b|c|d|e|f|g|h|i)",  # the ambiguity one level down
        "(?:s|ſ|a|b|c|d|e|f|g|h)",
        "(?:k|\u212a|a|b|c|d|e|f|g|h)",  # the Kelvin sign
    ],
)
def test_words_that_differ_only_by_case_are_left_as_they_are_when_case_is_ignored(
    pattern: str,
) -> None:
    assert with_tries(pattern, re.IGNORECASE) == pattern
    assert with_tries(pattern, 0) != pattern


@pytest.mark.parametrize("count", [1, 3, MIN_WORDS - 1])
def test_a_group_of_fewer_words_than_the_minimum_is_left_alone(count: int) -> None:
    pattern = "(?:" + "|".join(f"w{n}" for n in range(count)) + ")x"
    assert with_tries(pattern, 0) == pattern


def test_a_group_of_the_minimum_number_of_words_is_rewritten() -> None:
    pattern = "(?:" + "|".join(f"w{n}" for n in range(MIN_WORDS)) + ")x"
    assert with_tries(pattern, 0) != pattern
