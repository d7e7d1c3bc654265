"""Long alternations of literal words in a regular expression, rewritten as tries.

twitter-text's URL pattern lists every top-level domain, about 1,500 of them, as one group
``(?:삼성|닷컴|…|com|…)``. A backtracking engine tries them one by one, at every place a
domain can end, which made finding a link the slowest step of measuring a post for X. As a
trie, ``(?:c(?:o(?:m|)|h)|…)``, each character is looked at once.

The rewrite matches exactly what the original matches, and the same way: a backtracking
engine takes the first alternative that lets the rest of the pattern match, and the trie
keeps the original order among the words that share a prefix (only those can both match at
one place). Where case-insensitive matching would let two different characters of a node
match the same text, the order could change, so such a group is left as it is.
"""

from __future__ import annotations

import re

# A non-capturing group of at least MIN_WORDS alternatives, each plain text: no group,
# class, escape, quantifier or anchor inside.
MIN_WORDS = 10
_PLAIN = r"[^\\()\[\]{}|.*+?^$]+"
_LITERAL_GROUP = re.compile(rf"(?<!\\)\(\?:({_PLAIN}(?:\|{_PLAIN}){{{MIN_WORDS - 1},}})\)")

_END = ""  # the trie key marking that a word ends at this node


def _trie(words: list[str]) -> dict[str, dict]:  # type: ignore[type-arg]
    root: dict[str, dict] = {}  # type: ignore[type-arg]
    for word in words:
        node = root
        for char in word:
            node = node.setdefault(char, {})
        node.setdefault(_END, {})
    return root


def _pattern(node: dict[str, dict]) -> str:  # type: ignore[type-arg]
    branches = [re.escape(char) + _pattern(child) if char else "" for char, child in node.items()]
    if len(branches) == 1:
        return branches[0]
    return "(?:" + "|".join(branches) + ")"


def _ambiguous(node: dict[str, dict], flags: int) -> bool:  # type: ignore[type-arg]
    """Whether two different characters of one node can match the same text."""
    chars = [char for char in node if char]
    for index, char in enumerate(chars):
        pattern = re.compile(re.escape(char), flags)
        if any(pattern.fullmatch(other) for other in chars[index + 1 :]):
            return True
    return any(_ambiguous(child, flags) for child in node.values())


def with_tries(pattern: str, flags: int = 0) -> str:
    """``pattern`` with each long group of literal alternatives written as a trie."""

    def rewrite(match: re.Match[str]) -> str:
        words = match.group(1).split("|")
        trie = _trie(words)
        if _ambiguous(trie, flags):
            return match.group()
        return "(?:" + _pattern(trie) + ")"

    return _LITERAL_GROUP.sub(rewrite, pattern)
