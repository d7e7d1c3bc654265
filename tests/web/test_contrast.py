"""Colour contrast of the dashboard's stylesheet: every text colour on the background it is
used on reaches WCAG AA (4.5:1 for body text)."""

from __future__ import annotations

from pathlib import Path

import pytest

CSS = (
    Path(__file__).resolve().parents[2] / "distributor" / "web" / "static" / "app.css"
).read_text()

# (text, background) as app.css pairs them.
PAIRS = [
    ("#1a1a1a", "#fff"),  # body
    ("#0b57a4", "#fff"),  # links
    ("#4f5a65", "#fff"),  # muted
    ("#7a4100", "#fff"),  # warnings
    ("#a4161a", "#fff"),  # errors, over-limit counter
    ("#7a1014", "#fff"),  # failure reasons
    ("#fff", "#12324f"),  # top bar
    ("#dfe7ef", "#12324f"),  # role in the top bar
    ("#fff", "#0b5e2e"),  # primary buttons
    ("#fff", "#a4161a"),  # danger buttons
    ("#1a1a1a", "#f3f5f7"),  # buttons
    ("#5c3300", "#fff6e5"),  # warning lists
    ("#5a4500", "#fff8d6"),  # awaiting badge
    ("#0b4f8a", "#e8f1fb"),  # approved / scheduled badges
    ("#0b5e2e", "#e7f4ea"),  # sent badge, notices
    ("#8a1216", "#fdeaea"),  # failed badges
    ("#4f5a65", "#f0f2f4"),  # cancelled badges
]


def _luminance(colour: str) -> float:
    hex_digits = colour.lstrip("#")
    if len(hex_digits) == 3:
        hex_digits = "".join(c * 2 for c in hex_digits)
    channels = [int(hex_digits[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(text: str, background: str) -> float:
    lighter, darker = sorted((_luminance(text), _luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


@pytest.mark.parametrize(("text", "background"), PAIRS)
def test_text_colour_meets_aa_on_its_background(text: str, background: str) -> None:
    assert text in CSS and background in CSS
    assert contrast(text, background) >= 4.5


def test_the_focus_outline_is_visible_against_white() -> None:
    assert "outline: 3px solid #b35c00" in CSS
    assert contrast("#b35c00", "#fff") >= 3  # WCAG 1.4.11: non-text contrast
