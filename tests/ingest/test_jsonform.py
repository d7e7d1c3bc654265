from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from distributor.domain import Image, RelatedArticle
from distributor.ingest.errors import IngestError
from distributor.ingest.jsonform import parse_json

FULL: dict[str, Any] = {
    "title": "UN80 Reform: States endorse slashing of human rights budget",
    "lead": "States have adopted a 2026 budget cutting 117 jobs.",
    "body_html": '<p>Cuts <script>x()</script><a href="/more">more</a></p>',
    "url": "https://ishr.ch/latest-updates/un80-reform/",
    "guid": "31002 at https://ishr.ch",
    "categories": ["News", "UN80", "News"],
    "image": {"url": "https://ishr.ch/i.jpg", "credit": "UN Photo", "alt": "The assembly hall"},
    "pdf_url": "https://ishr.ch/report.pdf",
    "related": [{"title": "Venezuela", "summary": "A statement.", "url": "https://ishr.ch/v/"}],
    "published_at": "2025-12-24T11:30:00+01:00",
}


def test_a_full_object_becomes_an_article() -> None:
    [article] = parse_json(json.dumps(FULL))

    assert article.title == FULL["title"]
    assert article.lead == FULL["lead"]
    assert article.body_html == (
        '<p>Cuts <a href="https://ishr.ch/more" rel="noopener noreferrer">more</a></p>'
    )
    assert article.guid == "31002 at https://ishr.ch"
    assert article.categories == ("News", "UN80")
    assert article.image == Image(
        url="https://ishr.ch/i.jpg", credit="UN Photo", alt="The assembly hall"
    )
    assert article.pdf_url == "https://ishr.ch/report.pdf"
    assert article.related == (
        RelatedArticle(title="Venezuela", summary="A statement.", url="https://ishr.ch/v/"),
    )
    assert article.published_at == datetime(2025, 12, 24, 10, 30, tzinfo=UTC)


def test_a_list_gives_every_article_in_order() -> None:
    items = [{"title": f"Item {n}", "url": f"https://ishr.ch/{n}/"} for n in range(3)]

    articles = parse_json(json.dumps(items).encode())

    assert [a.title for a in articles] == ["Item 0", "Item 1", "Item 2"]


def test_summary_and_plain_body_are_accepted() -> None:
    data = {"title": "T", "guid": "g-1", "summary": "Lead.", "body": "One\nline.\n\n<b>Two</b>"}

    [article] = parse_json(json.dumps(data))

    assert article.lead == "Lead."
    assert article.body_html == "<p>One line.</p><p>&lt;b&gt;Two&lt;/b&gt;</p>"


def test_a_missing_title_names_the_field_and_item() -> None:
    items = [{"title": "Fine", "guid": "a"}, {"lead": "No title here", "guid": "b"}]

    with pytest.raises(IngestError) as caught:
        parse_json(json.dumps(items))

    assert str(caught.value) == "JSON item 2, field 'title': is required"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"url": "javascript:alert(1)"},
            "JSON item 1, field 'url': must be an absolute http(s) URL",
        ),
        (
            {"pdf_url": "https://x.example/%%UNSUBSCRIBE_URL%%"},
            "JSON item 1, field 'pdf_url': must not contain a mailer placeholder",
        ),
        ({"publishd_at": "x"}, "JSON item 1, field 'publishd_at': unknown field"),
        (
            {"published_at": "2025-12-24T11:30:00"},
            "JSON item 1, field 'published_at': needs a time zone, e.g. 2024-03-06T09:00:00Z",
        ),
        ({"related": [{"summary": "s"}]}, "JSON item 1, field 'related[0].title': is required"),
        ({"title": "   "}, "JSON item 1, field 'title': must not be empty"),
        ({"body": "plain"}, "JSON item 1: give 'body_html' or 'body', not both"),
    ],
)
def test_invalid_fields_are_named(change: dict[str, Any], expected: str) -> None:
    with pytest.raises(IngestError) as caught:
        parse_json(json.dumps({**FULL, **change}))

    assert str(caught.value) == expected


def test_an_article_needs_an_identity() -> None:
    with pytest.raises(IngestError, match="needs a 'url' or a 'guid'"):
        parse_json('{"title": "Orphan"}')


def test_a_base_url_gives_an_article_its_slug_url() -> None:
    [article] = parse_json(
        '{"title": "Orphan article"}', base_url="https://ishr.ch/latest-updates/"
    )

    assert article.url == "https://ishr.ch/latest-updates/orphan-article/"


def test_broken_json_names_the_line() -> None:
    with pytest.raises(IngestError) as caught:
        parse_json('{\n"title": "x",\n}')

    assert caught.value.where == "line 3, column 1"


def test_a_title_with_crlf_in_json_becomes_one_line() -> None:
    [article] = parse_json(json.dumps({"title": "Two\r\nlines", "guid": "g"}))

    assert article.title == "Two lines"
