"""A deterministic corpus of post texts that stress X's counting rule: CJK, emoji sequences
(ZWJ, flags, skin tones, keycaps, tags), combining marks, URLs with and without a protocol,
right-to-left text, and mixtures of all of them. Seeded, so every run checks the same texts."""

from __future__ import annotations

import random

SEED = 20261128

LATIN = ["news", "Human", "rights", "defenders", "UN", "Genève", "naïve", "Ærøskøbing", "ß"]
CJK = ["日本語", "人権", "擁護者", "中文测试", "ひらがな", "カタカナ", "한국어", "漢字かな交じり"]
EMOJI = [
    "😷",
    "❤️",
    "❤",
    "☺",
    "✈️",
    "🥱",  # Unicode 12
    "🫠",  # Unicode 14
    "👨\u200d👩\u200d👧\u200d👦",  # family, ZWJ
    "👩\u200d💻",
    "🏳️\u200d🌈",
    "👨\u200d❤️\u200d👨",
    "🧑\u200d🤝\u200d🧑",
    "👩🏽\u200d🚀",
    "🇩🇪",
    "🇯🇵",
    "🇺🇳",
    "🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f",  # Scotland, tag sequence
    "👍🏽",
    "👋🏿",
    "🤷🏻\u200d♀️",
    "1️⃣",
    "#️⃣",
    "©",
    "™️",
]
COMBINING = [
    "e\u0301",  # NFC → é
    "a\u0308",  # NFC → ä
    "o\u0302\u0323",  # NFC → ộ
    "q\u0307",  # stays two code points
    "\u1100\u1161",  # Hangul jamo, NFC → 가
    "क्षि",  # Devanagari with virama
    "Z\u0351\u0352\u0353",  # stacked marks
]
URLS = [
    "https://example.com",
    "https://ishr.ch/latest-updates/civil-society-stresses-importance/",
    "http://example.org/path?q=1&r=2#frag",
    "https://t.co/abcdefghij",
    "https://例え.jp/パス",
    "https://example.com/(wiki)",
    "HTTPS://EXAMPLE.COM/UPPER",
    "https://example.com:8080/port",
    "example.com",
    "www.example.org/path",
    "ishr.ch",
    "foo.co.uk/bar",
    "sub.domain.example.net",
    "example.invalidtld",
    "localhost:8000",
    "127.0.0.1/x",
    "user@example.com",
    "a.b",
    "bit.ly/3xYz",
    "日本.jp",
    "example.com.",
    "(example.com)",
    "www.ishr.ch",
    "ISHR.CH/News",
    "ftp://example.com",
    "https://t.co/" + "a" * 41,  # a t.co slug longer than 40
    "https://xn--e1afmkfd.xn--p1ai/",
    "пример.рф",
    "ПРИМЕР.РФ",
    "https://" + "a" * 64 + ".com",  # a label longer than 63
    "https://example.com/" + "p" * 4090,  # longer than 4096 in all
    "example.ſe",  # no ASCII case partner in JavaScript
    "ſtraße.de",
    "İstanbul.com",
    "https://example.com/path_(with)_parens?q=(1)",
    "$example.com",
    "#example.com",
    "@example.com",
    "-example.com",
    "https://example.com,",
    "example.com?",
    "http://日本.jp",
]
RTL = ["مرحبا بالعالم", "حقوق الإنسان", "שלום עולם", "זכויות אדם", "\u200fRLM", "\u200eLRM"]
PUNCTUATION = ["…", "—", "–", "“quoted”", "‘single’", "•", "‰", "€", "°", "¿?", "!!", "#tag"]
PUNCTUATION += ["@user", "$CASH", "\ufeff", "\u2028"]
SEPARATORS = [" ", " ", " ", "", "\n", "\n\n", ", ", "\t", "\u00a0", "\u3000"]
KINDS = [LATIN, CJK, EMOJI, COMBINING, URLS, RTL, PUNCTUATION]

HAND_WRITTEN = [
    "",
    "a",
    "a" * 280,
    "a" * 281,
    "日" * 140,
    "日" * 141,
    "😷" * 140,
    "👨\u200d👩\u200d👧\u200d👦" * 141,
    "Read more: https://example.com " + "x" * 256,
    "e\u0301" * 280,
    "line\r\nbreak",
    "see example.com, example.org and https://example.net/a.",
    "日本語example.com",
    "example.com日本語",
    "مرحبا https://example.com مرحبا",
    "example.ſe and ſtraße.de and Kelvin.com",
    "日本語ishr.ch日本語",
    "1️⃣2️⃣#️⃣*️⃣",
    "11⃣ #⃣ 0\ufe0f",
    "\ufeffBOM first",
    "☺\ufe0e text style",
    "❤\ufe0f",
]


def corpus(size: int = 1500) -> list[str]:
    """``size`` generated texts after the hand-written ones, the same on every run."""
    rng = random.Random(SEED)
    texts = list(HAND_WRITTEN)
    while len(texts) < len(HAND_WRITTEN) + size:
        pieces: list[str] = []
        for _ in range(rng.randint(1, 14)):
            pieces.append(rng.choice(rng.choice(KINDS)))
            pieces.append(rng.choice(SEPARATORS))
        text = "".join(pieces)
        if rng.random() < 0.1:
            text = text * rng.randint(5, 20)  # long texts near and over the limit
        texts.append(text)
    return texts


def _random_character(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.3:
        return chr(rng.randint(0x20, 0x7E))
    if roll < 0.5:
        return chr(rng.randint(0xA0, 0x2FFF))  # Latin to symbols, combining marks, punctuation
    if roll < 0.6:
        return chr(rng.randint(0x3000, 0xD7FF))  # CJK, Hangul
    if roll < 0.7:
        return chr(rng.randint(0xE000, 0xFFFF))  # private use, compatibility forms, specials
    if roll < 0.85:
        return chr(rng.randint(0x1F000, 0x1FAFF))  # emoji planes
    return chr(rng.randint(0x10000, 0x10FFFF))  # anything astral, unassigned included


def random_unicode(size: int = 1500) -> list[str]:
    """``size`` texts of arbitrary code points (no surrogates), some with a link or joiner
    appended: what no hand-made list thinks of. The same on every run."""
    rng = random.Random(SEED + 1)
    tails = [" example.com", " https://a.b.co/x", " 1.2", " a.museum", "\u200d", "\ufe0f"]
    texts = []
    for _ in range(size):
        text = "".join(_random_character(rng) for _ in range(rng.randint(0, 40)))
        if rng.random() < 0.3:
            text += rng.choice(tails)
        texts.append(text)
    return texts
