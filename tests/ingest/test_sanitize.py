from __future__ import annotations

import pytest

from distributor.ingest.sanitize import clean_html, plain_text, single_line, strip_placeholders


@pytest.mark.parametrize(
    "hostile",
    [
        "<script>alert(1)</script>",
        "<style>body{display:none}</style>",
        '<iframe src="https://evil.example/"></iframe>',
        '<object data="x.swf"></object><embed src="x.swf">',
        '<form action="https://evil.example/"><input name="pw"></form>',
        "<svg><script>alert(1)</script></svg>",
        "<math><mi>x</mi></math>",
    ],
)
def test_dangerous_elements_are_removed_with_their_content(hostile: str) -> None:
    cleaned = clean_html(f"<p>Before</p>{hostile}<p>After</p>")

    assert cleaned == "<p>Before</p><p>After</p>"


def test_event_handler_and_style_attributes_are_removed() -> None:
    cleaned = clean_html(
        '<p onclick="steal()" style="color:red">Hi <b onmouseover="x()">there</b></p>'
    )

    assert cleaned == "<p>Hi <b>there</b></p>"


def test_an_image_with_onerror_does_not_survive() -> None:
    cleaned = clean_html('<p>Look<img src="x" onerror="alert(1)"></p>')

    assert "onerror" not in cleaned
    assert "<img" not in cleaned


def test_javascript_and_data_links_lose_their_href() -> None:
    cleaned = clean_html(
        '<p><a href="javascript:alert(1)">a</a> <a href="JaVaScRiPt:alert(1)">b</a> '
        '<a href="data:text/html,x">c</a></p>'
    )

    assert "javascript" not in cleaned.lower()
    assert "data:" not in cleaned
    assert "href" not in cleaned


def test_safe_links_keep_their_href_and_get_noopener() -> None:
    cleaned = clean_html(
        '<p><a href="https://ishr.ch/" target="_blank">ISHR</a> '
        '<a href="mailto:info@ishr.ch">mail</a></p>'
    )

    assert cleaned == (
        '<p><a href="https://ishr.ch/" rel="noopener noreferrer">ISHR</a> '
        '<a href="mailto:info@ishr.ch" rel="noopener noreferrer">mail</a></p>'
    )


def test_relative_links_are_resolved_against_the_article_or_dropped() -> None:
    html = '<p><a href="/report.pdf">report</a></p>'

    assert 'href="https://ishr.ch/report.pdf"' in clean_html(html, base_url="https://ishr.ch/news/")
    assert "href" not in clean_html(html)


def test_template_syntax_in_content_stays_literal() -> None:
    cleaned = clean_html("<p>{{ 7*7 }} and {% if x %}y{% endif %}</p>")

    assert cleaned == "<p>{{ 7*7 }} and {% if x %}y{% endif %}</p>"


def test_the_email_allowlist_keeps_structure() -> None:
    html = (
        "<h2>Head</h2><p><strong>s</strong><em>e</em><br>x</p>"
        "<ul><li>one</li></ul><ol><li>two</li></ol><blockquote>q</blockquote>"
    )

    assert clean_html(html) == html


def test_mailer_placeholders_are_removed_even_when_hidden() -> None:
    cleaned = clean_html(
        '<p>%%UNSUBSCRIBE_URL%% <a href="%%PREFERENCES_URL%%">x</a> '
        "&#37;&#37;UNSUBSCRIBE_URL&#37;&#37; %%UNSUB%%UNSUBSCRIBE_URL%%SCRIBE_URL%%</p>"
    )

    assert "UNSUBSCRIBE_URL" not in cleaned
    assert "PREFERENCES_URL" not in cleaned
    assert strip_placeholders("a%%PREFERENCES_URL%%b") == "ab"


def test_a_title_with_crlf_becomes_one_line() -> None:
    assert single_line("Civil society\r\nmeets the\rSecretary-General\n", 200) == (
        "Civil society meets the Secretary-General"
    )


@pytest.mark.parametrize(
    "boundary", ["\v", "\f", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]
)
def test_every_line_boundary_python_knows_becomes_a_space(boundary: str) -> None:
    assert single_line(f"one{boundary}two", 50) == "one two"


def test_control_and_bidi_override_characters_are_dropped() -> None:
    assert single_line("a\x00b\x07c\x1b[31md\u202ee\t f", 50) == "abc[31mde f"


def test_emoji_sequences_survive_single_line() -> None:
    family = "👩\u200d👩\u200d👧"
    assert single_line(f"Hello {family}", 50) == f"Hello {family}"


def test_long_text_is_cut_at_a_word_boundary_with_an_ellipsis() -> None:
    cut = single_line("Human rights defenders work for a world", 25)

    assert cut == "Human rights defenders…"
    assert len(cut) <= 25


def test_one_long_word_is_cut_between_graphemes() -> None:
    cut = single_line("e\u0301" * 10, 6)

    assert cut == "e\u0301" * 2 + "…"


def test_plain_text_strips_tags_and_decodes_entities() -> None:
    text = plain_text("<p>Rights &amp; <b>wrongs</b></p><p>next<script>x()</script> &lt;3</p>")

    assert text == "Rights & wrongs next <3"


def test_plain_text_drops_placeholders_formed_by_entities() -> None:
    assert plain_text("x &#37;&#37;UNSUBSCRIBE_URL&#37;&#37; y") == "x y"
