from __future__ import annotations

import re

import pytest

from distributor.ingest.errors import IngestError
from distributor.ingest.feeds import parse_feed
from distributor.ingest.plaintext import parse_plaintext, slugify

BASE = "https://ishr.ch/latest-updates/"
SEED_URL = (
    "https://ishr.ch/latest-updates/civil-society-stresses-importance-of-access-role-of-"
    "defenders-at-meeting-with-un-secretary-general/"
)


def test_the_seed_text_parses_into_every_field(seed_text: str) -> None:
    article = parse_plaintext(seed_text, base_url=BASE)

    assert article.image is not None
    assert article.image.credit == "UN Photo / Manuel Elias"
    assert article.image.url is None
    assert article.categories == ("News",)
    assert article.title == (
        "Civil society stresses importance of access, role of defenders at meeting with "
        "UN Secretary-General"
    )
    assert article.lead.startswith("Members of six international NGOs spoke with")
    assert article.lead.endswith("access UN human rights mechanisms.")
    body_paragraphs = re.findall(r"<p>(.*?)</p>", article.body_html)
    # Six paragraphs follow the title: the lead, then five in the body.
    assert len([article.lead, *body_paragraphs]) == 6
    assert body_paragraphs[0].startswith("Human rights defenders work")
    assert body_paragraphs[-1].endswith("Kashmiri defender Khurram Parvez.")
    assert article.pdf_url == article.url
    assert [r.title for r in article.related] == [
        "UN80 Reform: States endorse slashing of human rights budget",
        "Venezuela: ISHR and human rights organisations condemn US military attack and "
        "express concern for human rights",
    ]
    assert article.related[0].summary.startswith("At a time of financial strife")
    assert article.related[1].summary.endswith("over its future.")


def test_stray_whitespace_around_a_paragraph_is_tidied(seed_text: str) -> None:
    article = parse_plaintext(seed_text, base_url=BASE)

    assert "<p>NGO representatives also highlighted" in article.body_html
    assert "guidelines.</p>" in article.body_html


def test_the_slug_url_is_the_feeds_link_for_the_same_article(
    seed_text: str, seed_feed_bytes: bytes
) -> None:
    article = parse_plaintext(seed_text, base_url=BASE)
    from_feed = parse_feed(seed_feed_bytes, source="seed feed").articles[0]

    assert article.url == SEED_URL
    assert article.url == from_feed.url
    assert article.title == from_feed.title


def test_a_given_url_wins_over_the_slug(seed_text: str) -> None:
    article = parse_plaintext(seed_text, url="https://example.org/a", base_url=BASE)

    assert article.url == "https://example.org/a"


def test_without_any_url_the_text_is_refused(seed_text: str) -> None:
    with pytest.raises(IngestError, match="no article URL") as caught:
        parse_plaintext(seed_text)

    assert caught.value.where == "line 5"


def test_slugs_drop_punctuation_and_accents() -> None:
    assert slugify("UN80 Reform: States’ budget — Genève & Zürich!") == (
        "un80-reform-states-budget-geneve-zurich"
    )


def test_truncated_text_names_what_is_missing(seed_text: str) -> None:
    first_three_lines = "\n".join(seed_text.splitlines()[:3])

    with pytest.raises(IngestError) as caught:
        parse_plaintext(first_three_lines, base_url=BASE)

    assert str(caught.value) == "line 3: the text ends before the title"


def test_text_without_body_paragraphs_is_refused(seed_text: str) -> None:
    up_to_lead = "\n".join(seed_text.splitlines()[:7])

    with pytest.raises(IngestError, match="no body paragraphs after the lead"):
        parse_plaintext(up_to_lead, base_url=BASE)


def test_a_related_title_without_summary_is_refused(seed_text: str) -> None:
    cut = seed_text[: seed_text.index("At a time of financial strife")]

    with pytest.raises(IngestError, match="has no summary"):
        parse_plaintext(cut, base_url=BASE)


def test_unexpected_text_after_the_pdf_marker_is_refused(seed_text: str) -> None:
    broken = seed_text.replace("Related articles", "Something else")

    with pytest.raises(IngestError, match="expected 'Related articles'") as caught:
        parse_plaintext(broken, base_url=BASE)

    assert caught.value.where.startswith("line ")


def test_the_pdf_marker_and_related_section_are_optional() -> None:
    text = "Credit\n\nNews\n\nA title\n\nThe lead.\n\nOne paragraph\nwrapped over lines.\n"

    article = parse_plaintext(text, base_url=BASE)

    assert article.pdf_url is None
    assert article.related == ()
    assert article.body_html == "<p>One paragraph wrapped over lines.</p>"


def test_a_title_with_stray_control_characters_becomes_one_clean_line() -> None:
    text = "Credit\n\nNews\n\nA\x00 title\u2028 here\n\nLead.\n\n"
    text += "Body <script>x</script> {{ 7*7 }}\n"

    article = parse_plaintext(text, base_url=BASE)

    assert article.title == "A title here"
    assert article.body_html == "<p>Body &lt;script&gt;x&lt;/script&gt; {{ 7*7 }}</p>"
