"""X's counting rule: twitter-text v3 ``parseTweet`` weighting, ported line for line.

X counts NFC-normalised text in UTF-16 code units: each URL (with or without a protocol, as
twitter-text's extractor finds them) weighs 23, each emoji sequence twemoji knows weighs 2, and
every other character weighs what the v3 ranges say (1 for Latin and common punctuation, 2 for
the rest, CJK included); 280 weighted characters fit.

The PyPI port (twitter-text-parser 3.0.0) disagreed with the official npm package on 67 of 615
texts of our differential corpus (tests/rendering/tweet_corpus.py): it counts code points, not
UTF-16 units, folds CRLF and has its own emoji list. So the package's own regular expressions
are used instead, verbatim (twitter_data.py, generated from it), run over a string of UTF-16
code units: that is what JavaScript regular expressions see, so indices and matches agree.
"""

from __future__ import annotations

import re
import unicodedata
from array import array
from dataclasses import dataclass
from functools import lru_cache

from distributor.rendering import twitter_data

CONFIG = twitter_data.CONFIG
MAX_WEIGHTED_LENGTH: int = CONFIG["maxWeightedTweetLength"]
URL_LENGTH: int = CONFIG["transformedURLLength"]
_SCALE: int = CONFIG["scale"]
_DEFAULT_WEIGHT: int = CONFIG["defaultWeight"]
_RANGES: tuple[tuple[int, int, int], ...] = tuple(
    (r["start"], r["end"], r["weight"]) for r in CONFIG["ranges"]
)
_MAX_URL_LENGTH = 4096
_MAX_TCO_SLUG_LENGTH = 40
_MAX_DOMAIN_LABEL_LENGTH = 63
_DEFAULT_PROTOCOL = "https://"
# punycode.js splits domains on these as well as on "."
_LABEL_SEPARATORS = re.compile("[\u3002\uff0e\uff61]")


def python_pattern(source: str, flags: str) -> re.Pattern[str]:
    """A JavaScript regular expression (no ``u`` or ``m`` flag) as a Python one.

    The only construct whose meaning differs in these patterns is ``$``: in JavaScript it
    matches at the very end of the input only, in Python also before a final newline."""
    out: list[str] = []
    in_class = False
    index = 0
    while index < len(source):
        char = source[index]
        if char == "\\":
            out.append(source[index : index + 2])
            index += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "$":
            char = r"\Z"
        out.append(char)
        index += 1
    return re.compile("".join(out), re.IGNORECASE if "i" in flags else 0)


@lru_cache(maxsize=1)
def _patterns() -> dict[str, re.Pattern[str]]:
    # Compiled on first use: the URL pattern is 13 kB of alternatives.
    names = (
        "EXTRACT_URL",
        "VALID_ASCII_DOMAIN",
        "INVALID_URL_WITHOUT_PROTOCOL_PRECEDING_CHARS",
        "VALID_TCO_URL",
        "INVALID_CHARS",
        "EMOJI",
    )
    return {name: python_pattern(*getattr(twitter_data, name)) for name in names}


def utf16_units(text: str) -> str:
    """``text`` as one Python character per UTF-16 code unit (astral characters become
    surrogate pairs), so that offsets and regular expressions behave as in JavaScript."""
    if text.isascii():
        return text
    return "".join(map(chr, array("H", text.encode("utf-16-le", "surrogatepass"))))


def from_utf16_units(units: str) -> str:
    return units.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")


@dataclass(frozen=True)
class _Entity:
    text: str
    start: int  # UTF-16 offsets into the normalised text
    end: int


def _url_entities(units: str) -> list[_Entity]:
    """twitter-text's extractUrlsWithIndices (URLs without a protocol included)."""
    if "." not in units:
        return []
    patterns = _patterns()
    entities: list[_Entity] = []
    for match in patterns["EXTRACT_URL"].finditer(units):
        before = match.group(2) or ""
        url = match.group(3) or ""
        protocol = match.group(4) or ""
        domain = match.group(5) or ""
        path = match.group(7) or ""
        end = match.end()
        start = end - len(url)
        if not _is_valid_url(url, protocol or _DEFAULT_PROTOCOL, domain):
            continue
        if not protocol:
            if patterns["INVALID_URL_WITHOUT_PROTOCOL_PRECEDING_CHARS"].search(before):
                continue
            last: _Entity | None = None
            ascii_end = 0
            for ascii_match in patterns["VALID_ASCII_DOMAIN"].finditer(domain):
                ascii_domain = ascii_match.group()
                ascii_start = domain.find(ascii_domain, ascii_end)
                ascii_end = ascii_start + len(ascii_domain)
                last = _Entity(ascii_domain, start + ascii_start, start + ascii_end)
                entities.append(last)
            if last is None:
                continue  # no ASCII-only domain: the whole candidate is skipped
            if path:
                entities[-1] = _Entity(url.replace(domain, last.text, 1), last.start, end)
        else:
            tco = patterns["VALID_TCO_URL"].match(url)
            if tco is not None:
                slug = tco.group(1)
                if slug and len(slug) > _MAX_TCO_SLUG_LENGTH:
                    continue
                url = tco.group(0)
                end = start + len(url)
            entities.append(_Entity(url, start, end))
    return entities


def _is_valid_url(url: str, protocol: str, domain: str) -> bool:
    """isValidUrl with twitter-text's lightweight idna.toAscii: every label 1–63 long once
    punycode-encoded, and the whole URL at most 4096."""
    if domain.startswith("xn--") and not _patterns()["VALID_ASCII_DOMAIN"].search(domain):
        return False
    for label in domain.split("."):
        if _punycode_length(label) < 1 or _punycode_length(label) > _MAX_DOMAIN_LABEL_LENGTH:
            return False
    return len(protocol) + len(url) <= _MAX_URL_LENGTH


def _punycode_length(label: str) -> int:
    parts = _LABEL_SEPARATORS.split(label)
    total = len(parts) - 1
    for part in parts:
        text = from_utf16_units(part)
        total += len(text) if text.isascii() else 4 + len(text.encode("punycode"))
    return total


def _weight(code_unit: int) -> int:
    for start, end, weight in _RANGES:
        if start <= code_unit <= end:
            return weight
    return _DEFAULT_WEIGHT


@dataclass(frozen=True)
class ParsedTweet:
    weighted_length: int
    valid: bool
    url_spans: list[tuple[int, int]]  # code-point offsets into the NFC text


def parse_tweet(text: str) -> ParsedTweet:
    """twitter-text's parseTweet (v3 config): the weighted length and whether X accepts it."""
    normalized = unicodedata.normalize("NFC", text)
    units = utf16_units(normalized)
    urls = {entity.start: entity for entity in _url_entities(units)}
    emoji = {match.start(): match.group() for match in _patterns()["EMOJI"].finditer(units)}
    invalid = _patterns()["INVALID_CHARS"]
    weighted = 0
    valid = True
    index = 0
    while index < len(units):
        if index in urls:
            weighted += URL_LENGTH * _SCALE
            index += len(urls[index].text) - 1
        elif index in emoji:
            weighted += _DEFAULT_WEIGHT
            index += len(emoji[index]) - 1
        else:
            if _starts_surrogate_pair(units, index):
                index += 1  # the pair weighs what its low surrogate weighs, as in JavaScript
            weighted += _weight(ord(units[index]))
        if valid and invalid.search(units, index, index + 1):
            valid = False
        index += 1
    length = weighted // _SCALE
    spans = [
        (len(from_utf16_units(units[: e.start])), len(from_utf16_units(units[: e.end])))
        for e in urls.values()
    ]
    return ParsedTweet(length, valid and 0 < length <= MAX_WEIGHTED_LENGTH, spans)


def _starts_surrogate_pair(units: str, index: int) -> bool:
    return (
        index < len(units) - 1
        and 0xD800 <= ord(units[index]) <= 0xDBFF
        and 0xDC00 <= ord(units[index + 1]) <= 0xDFFF
    )


def x_length(text: str) -> int:
    """Weighted length as X counts it (280 fit)."""
    return parse_tweet(text).weighted_length


def x_url_spans(text: str) -> list[tuple[int, int]]:
    """Code-point spans (in the NFC form of ``text``) of what X counts as links, bare domains
    such as ``example.com`` included."""
    return parse_tweet(text).url_spans
