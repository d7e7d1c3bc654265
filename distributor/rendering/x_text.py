"""X's counting rule: twitter-text v3 ``parseTweet``, giving the official package's answers.

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
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

from distributor.rendering import twitter_data
from distributor.rendering.literal_tries import with_tries

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

    Of the constructs these patterns use, ``$`` means something else: in JavaScript it
    matches at the very end of the input only, in Python also before a final newline. (The
    other difference, case folding under ``i``, is in the text: see _JS_CASE_STAND_INS.)"""
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
    python_flags = re.IGNORECASE if "i" in flags else 0
    # The lists of top-level domains and emoji as tries: the same matches, found many
    # times faster (literal_tries.py).
    return re.compile(with_tries("".join(out), python_flags), python_flags)


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
    encoded = text.encode("utf-16-le", "surrogatepass")
    if len(encoded) == 2 * len(text):
        return text  # nothing outside the BMP: one code point is one code unit
    return "".join(map(chr, array("H", encoded)))


def from_utf16_units(units: str) -> str:
    return units.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")


class _Entity(NamedTuple):  # a tuple: every measurement makes a few
    text: str
    start: int  # UTF-16 offsets into the normalised text
    end: int


# What the URL pattern treats as space: no part of a URL (protocol, domain, port, path, query)
# may contain one, so every URL lies inside one run of other characters.
_SPACE = "\t-\r \x85\xa0\u1680\u180e\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# Anchored at a run's start and possessive, so a run without a dot is read once, not once
# from each of its characters.
_RUN_WITH_DOT = re.compile(f"(?<![^{_SPACE}])[^{_SPACE}.]*+\\.[^{_SPACE}]*+")


# JavaScript's case-insensitive matching (without the u flag) never folds a non-ASCII
# character to an ASCII one; Python's folds these four to s, k and i. In the text searched
# they stand in for characters that fall in the same classes of these patterns but have no
# ASCII case partner (the length is the same, so every offset holds).
_JS_CASE_STAND_INS = str.maketrans(
    {
        "\u017f": "\u0101",  # ſ (long s): Latin Extended-A, like ā
        "\u0130": "\u0101",  # İ
        "\u0131": "\u0101",  # ı (dotless i)
        "\u212a": "\u2129",  # K (Kelvin sign): outside every named range, like ℩
    }
)


_JS_CASE_FOLDING = "\u017f\u0130\u0131\u212a"


def _url_entities(units: str) -> list[_Entity]:
    """twitter-text's extractUrlsWithIndices (URLs without a protocol included).

    The 13 kB pattern is searched only in the runs between spaces that hold a dot (a domain
    needs one), each with the space before it, which the match takes as the character before
    the URL: the same matches as a search of the whole text, and a run's URLs are remembered,
    since fitting a post measures many texts made of the same words."""
    if "." not in units:
        return []
    if not units.isascii() and any(char in units for char in _JS_CASE_FOLDING):
        units = units.translate(_JS_CASE_STAND_INS)  # slow per character, hence the test
    entities: list[_Entity] = []
    for start, end in _runs_with_dot(units):
        offset = max(start - 1, 0)
        for entity in _run_url_entities(units[offset:end]):
            entities.append(_Entity(entity.text, entity.start + offset, entity.end + offset))
    return entities


# Where str.split() and the URL pattern disagree on what a space is.
_SPLIT_DISAGREES = "\x1c\x1d\x1e\x1f\u180e"


def _runs_with_dot(units: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each run of non-space characters that holds a dot, in order."""
    if any(char in units for char in _SPLIT_DISAGREES):  # quicker than a pattern
        for run in _RUN_WITH_DOT.finditer(units):
            yield run.span()
        return
    # str.split() is many times quicker than any pattern; a run with a dot is found again
    # after the previous one (only a run with a dot can hold it).
    position = 0
    for word in units.split():
        if "." in word:
            start = units.find(word, position)
            position = start + len(word)
            yield start, position


@lru_cache(maxsize=4096)
def _run_url_entities(units: str) -> tuple[_Entity, ...]:
    # A leading space could also satisfy "^" here, but no URL starts with a space.
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
    return tuple(entities)


# An emoji is non-ASCII code units, or a keycap: one of "#*0-9" and then non-ASCII ones.
# (The keycap's first character is looked for by hand: a pattern starting with an optional
# character is tried at every position, one starting with a class is found by a fast scan.)
_NON_ASCII = re.compile("[^\\x00-\\x7f]+")
_KEYCAP_BASES = frozenset("#*0123456789")


def _emoji_windows(units: str) -> Iterator[tuple[int, str]]:
    """(offset, text) of each stretch where an emoji can be: a run of non-ASCII units, with
    the keycap base before it if there is one."""
    for window in _NON_ASCII.finditer(units):
        offset, end = window.span()
        if offset and units[offset - 1] in _KEYCAP_BASES:
            offset -= 1
        yield offset, units[offset:end]


def _emoji_spans(units: str) -> Iterator[tuple[int, int]]:
    """twemoji's matches, searched only where an emoji can be (the same matches, without
    trying the pattern at every ASCII character of a mostly Latin post)."""
    for offset, window in _emoji_windows(units):
        for start, stop in _window_emoji_spans(window):
            yield start + offset, stop + offset


@lru_cache(maxsize=4096)
def _window_emoji_spans(units: str) -> tuple[tuple[int, int], ...]:
    return tuple(match.span() for match in _patterns()["EMOJI"].finditer(units))


def _is_valid_url(url: str, protocol: str, domain: str) -> bool:
    """isValidUrl with twitter-text's lightweight idna.toAscii: every label 1–63 long once
    punycode-encoded, and the whole URL at most 4096."""
    if domain.startswith("xn--") and not _patterns()["VALID_ASCII_DOMAIN"].search(domain):
        return False
    if domain.isascii():  # punycode leaves ASCII labels as they are
        if not all(0 < len(label) <= _MAX_DOMAIN_LABEL_LENGTH for label in domain.split(".")):
            return False
        return len(protocol) + len(url) <= _MAX_URL_LENGTH
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


def _range_classes() -> tuple[tuple[re.Pattern[str], int], ...]:
    """One character class per weight of the config's ranges, to weigh runs of text at once
    instead of code unit by code unit (the slowest part of counting otherwise)."""
    by_weight: dict[int, list[str]] = {}
    for start, end, weight in _RANGES:
        if start <= 0xDFFF and end >= 0xD800:
            raise ValueError("twitter-text ranges covering surrogates are not supported")
        by_weight.setdefault(weight, []).append(f"{re.escape(chr(start))}-{re.escape(chr(end))}")
    return tuple(
        (re.compile(f"[{''.join(spans)}]*"), weight) for weight, spans in by_weight.items()
    )


_WEIGHT_CLASSES = _range_classes()
# The weight of every ASCII character, when one range gives them all the same.
_ASCII_WEIGHT: int | None = next(
    (weight for start, end, weight in _RANGES if start <= 0 and end >= 0x7F), None
)
_SURROGATE_PAIR = re.compile("[\ud800-\udbff][\udc00-\udfff]")


def _run_weight(units: str) -> int:
    """The weight of a run without URLs or emoji, as parseTweet adds it up: every code unit
    by its range, except that a surrogate pair counts once (by its low surrogate, which no
    range covers, so with the default weight)."""
    if _ASCII_WEIGHT is not None and units.isascii():
        return len(units) * _ASCII_WEIGHT
    if len(_WEIGHT_CLASSES) == 1 and _WEIGHT_CLASSES[0][0].fullmatch(units):
        return len(units) * _WEIGHT_CLASSES[0][1]  # Latin text: all one weight
    weighted = 0
    ranged = 0
    for pattern, weight in _WEIGHT_CLASSES:
        count = sum(map(len, pattern.findall(units)))
        weighted += count * weight
        ranged += count
    rest = len(units) - ranged
    if rest:
        rest -= len(_SURROGATE_PAIR.findall(units)) if not units.isascii() else 0
    return weighted + rest * _DEFAULT_WEIGHT


@dataclass(frozen=True)
class ParsedTweet:
    weighted_length: int
    valid: bool


@lru_cache(maxsize=512)
def parse_tweet(text: str) -> ParsedTweet:
    """twitter-text's parseTweet (v3 config): the weighted length and whether X accepts it.

    parseTweet walks the text: at a URL's start it adds 23 and jumps past the URL, at an
    emoji's start 2 and jumps past it, elsewhere it adds the character's weight. Entities
    are visited in that order here and the runs between them weighed at once."""
    length, valid = _walk(text, check=True)
    return ParsedTweet(length, valid and 0 < length <= MAX_WEIGHTED_LENGTH)


def _walk(text: str, *, check: bool) -> tuple[int, bool]:
    """(weighted length, no invalid character where the walk looks) of ``text``; with
    ``check`` False the second is not worked out (fitting a post needs only the length)."""
    normalized = unicodedata.normalize("NFC", text)
    units = utf16_units(normalized)
    urls = _url_entities(units)
    if not check and _ASCII_WEIGHT is not None and units is normalized:
        return _length_without_surrogates(units, urls), True
    entities: dict[int, tuple[str, int]] = {}
    if not units.isascii():  # every emoji pattern needs a non-ASCII code unit
        for start, end in _emoji_spans(units):
            entities[start] = (units[start:end], _DEFAULT_WEIGHT)
    for entity in urls:  # a URL wins over an emoji starting at the same place
        entities[entity.start] = (entity.text, URL_LENGTH * _SCALE)
    invalid = _patterns()["INVALID_CHARS"]
    weighted = 0
    valid = True
    position = 0
    for start in sorted(entities):
        if start < position:
            continue  # inside an entity already counted: the walk never stops there
        entity_text, weight = entities[start]
        run = units[position:start]
        weighted += _run_weight(run) + weight
        position = start + len(entity_text)
        # Validity is checked on the unit where the walk stands after each step.
        if check and valid:
            valid = not invalid.search(run) and not invalid.match(units, position - 1)
    run = units[position:]
    weighted += _run_weight(run)
    if check and valid:
        valid = not invalid.search(run)
    return weighted // _SCALE, valid


def _length_without_surrogates(units: str, urls: list[_Entity]) -> int:
    """The walk's weighted length, for a text with no astral character (no surrogate pair
    an entity could end inside), added up differently: every unit at the ASCII weight,
    corrected for each window of non-ASCII units (remembered: "…" and "’" recur) and for
    each entity (a URL or an emoji weighs its fixed amount instead of its units). The same
    sum, since weighing is additive wherever no pair is split."""
    weighted = len(units) * _ASCII_WEIGHT  # type: ignore[operator]
    entities: dict[int, tuple[int, int]] = {}
    if not units.isascii():  # every emoji pattern needs a non-ASCII code unit
        for offset, window in _emoji_windows(units):
            weighted += _window_weight(window) - len(window) * _ASCII_WEIGHT  # type: ignore[operator]
            for start, stop in _window_emoji_spans(window):
                entities[start + offset] = (stop - start, _DEFAULT_WEIGHT)
    for entity in urls:  # a URL wins over an emoji starting at the same place
        entities[entity.start] = (entity.end - entity.start, URL_LENGTH * _SCALE)
    position = 0
    for start in sorted(entities):
        if start < position:
            continue  # inside an entity already counted: the walk never stops there
        length, weight = entities[start]
        position = start + length
        weighted += weight - _run_weight(units[start:position])
    return weighted // _SCALE


@lru_cache(maxsize=4096)
def _window_weight(units: str) -> int:
    return _run_weight(units)


def x_length(text: str) -> int:
    """Weighted length as X counts it (280 fit)."""
    return _walk(text, check=False)[0]


def x_url_spans(text: str) -> list[tuple[int, int]]:
    """Code-point spans (in the NFC form of ``text``) of what X counts as links, bare domains
    such as ``example.com`` included."""
    units = utf16_units(unicodedata.normalize("NFC", text))
    return [
        (len(from_utf16_units(units[: e.start])), len(from_utf16_units(units[: e.end])))
        for e in _url_entities(units)
    ]


def url_count(text: str) -> int:
    """How many links twitter-text finds in ``text`` (bare domains included)."""
    return len(_url_entities(utf16_units(unicodedata.normalize("NFC", text))))
