"""X's counting agrees with the official npm twitter-text package, text for text.

The corpus (tweet_corpus.py) is generated from a fixed seed: CJK, emoji ZWJ sequences, flags,
skin tones, keycaps, combining marks, URLs with and without a protocol, right-to-left text and
mixtures. One node process measures all of it."""

from __future__ import annotations

from pathlib import Path

import pytest

from distributor.rendering.x_text import parse_tweet
from tests.peers.twitter_text import DATA_MODULE, TwitterText, export_data
from tests.rendering.tweet_corpus import corpus, random_unicode

pytestmark = pytest.mark.peers


def test_every_corpus_text_weighs_what_twitter_text_says(twitter_text: TwitterText) -> None:
    texts = corpus() + random_unicode()
    assert len(texts) >= 3000
    reference = twitter_text.parse(texts)
    ours = [(parsed.weighted_length, parsed.valid) for parsed in map(parse_tweet, texts)]
    assert {valid for _, valid in reference} == {True, False}  # over the limit, U+FEFF…
    disagreements = [
        (text, mine, theirs)
        for text, mine, theirs in zip(texts, ours, reference, strict=True)
        if mine != theirs
    ]
    assert disagreements == []


def test_the_corpus_is_the_same_on_every_run() -> None:
    assert corpus() == corpus()
    assert corpus(10) != corpus(11)


def test_the_corpus_covers_what_x_weighs_differently() -> None:
    joined = "".join(corpus())
    for sample in ("日本語", "\u200d", "🇩🇪", "🏽", "e\u0301", "https://", "ishr.ch", "مرحبا"):
        assert sample in joined


def test_the_vendored_patterns_are_the_packages_own(
    twitter_text: TwitterText, tmp_path: Path
) -> None:
    exported = tmp_path / "twitter_data.py"
    export_data(twitter_text.install, exported)
    assert exported.read_text(encoding="utf-8") == DATA_MODULE.read_text(encoding="utf-8")
