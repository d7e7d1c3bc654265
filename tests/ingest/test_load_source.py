from __future__ import annotations

import json
from pathlib import Path

import pytest

from distributor.http import BlockedAddress, make_session
from distributor.ingest import IngestError, detect_format, load_source

from .feed_server import FeedServer

BASE = "https://ishr.ch/latest-updates/"
FIXTURES = Path(__file__).parent.parent / "fixtures"
SEED_TEXT = FIXTURES / "articles" / "ishr-civil-society-meets-secretary-general.txt"
SEED_FEED = FIXTURES / "feeds" / "ishr-news.rss"


def test_a_plain_text_file_becomes_one_article() -> None:
    [article] = load_source(str(SEED_TEXT), base_url=BASE)

    assert article.url is not None
    assert article.url.endswith("-at-meeting-with-un-secretary-general/")
    assert article.categories == ("News",)


def test_a_feed_file_gives_every_item() -> None:
    articles = load_source(str(SEED_FEED), base_url=None)

    assert len(articles) == 3


def test_a_json_file_gives_its_articles(tmp_path: Path) -> None:
    path = tmp_path / "articles.json"
    path.write_text(json.dumps([{"title": "One", "guid": "1"}, {"title": "Two", "guid": "2"}]))

    assert [a.title for a in load_source(str(path), base_url=None)] == ["One", "Two"]


def test_content_decides_when_the_name_has_no_known_extension(
    tmp_path: Path, seed_feed_bytes: bytes, seed_text: str
) -> None:
    feed = tmp_path / "feed"
    feed.write_bytes(seed_feed_bytes)
    text = tmp_path / "article"
    text.write_text(seed_text)

    assert len(load_source(str(feed), base_url=None)) == 3
    assert len(load_source(str(text), base_url=BASE)) == 1


@pytest.mark.parametrize(
    ("data", "name", "expected"),
    [
        (b"\xef\xbb\xbf  <?xml version='1.0'?><rss/>", "x", "feed"),
        (b'\n[{"title": "x"}]', "x", "json"),
        (b"Credit\n\nNews", "x", "text"),
        (b"Credit", "a.JSON", "json"),
        (b"{", "a.txt", "text"),
        (b"", "feed.atom", "feed"),
    ],
)
def test_the_format_is_detected_by_extension_then_content(
    data: bytes, name: str, expected: str
) -> None:
    assert detect_format(data, name=name) == expected


def test_a_missing_file_is_named() -> None:
    with pytest.raises(IngestError) as caught:
        load_source("/nonexistent/article.txt", base_url=BASE)

    assert str(caught.value) == "file not found: /nonexistent/article.txt"


def test_errors_inside_a_file_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('[{"lead": "no title", "guid": "g"}]')

    with pytest.raises(IngestError) as caught:
        load_source(str(path), base_url=None)

    assert str(caught.value) == f"{path}, JSON item 1, field 'title': is required"


def test_binary_or_html_content_is_not_guessed_at(tmp_path: Path) -> None:
    image = tmp_path / "photo"
    image.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    page = tmp_path / "page"
    page.write_bytes(b"<!DOCTYPE html><html><body>Hi</body></html>")

    for path in (image, page):
        with pytest.raises(IngestError) as caught:
            load_source(str(path), base_url=BASE)
        assert str(caught.value) == f"{path}: not a feed, JSON or article text"


def test_other_url_schemes_are_refused() -> None:
    with pytest.raises(IngestError, match="only http"):
        load_source("file:///etc/passwd", base_url=None)


def test_a_bad_feed_item_fails_the_source_unless_problems_are_collected(tmp_path: Path) -> None:
    path = tmp_path / "mixed.rss"
    path.write_text(
        '<rss version="2.0"><channel><title>t</title>'
        "<item><title>Good</title><link>https://example.org/good</link></item>"
        "<item><link>https://example.org/untitled</link></item>"
        "</channel></rss>"
    )

    with pytest.raises(IngestError) as caught:
        load_source(str(path), base_url=None)
    assert str(caught.value) == f"{path}, feed item 2: no title"

    problems: list[IngestError] = []
    articles = load_source(str(path), base_url=None, problems=problems)
    assert [a.title for a in articles] == ["Good"]
    assert [str(p) for p in problems] == [f"{path}, feed item 2: no title"]


def test_a_url_source_is_fetched_and_parsed(seed_feed_bytes: bytes, seed_text: str) -> None:
    session = make_session(allow_private=True)
    with FeedServer(seed_feed_bytes) as feed_server:
        articles = load_source(feed_server.url("/latest"), session=session, base_url=None)
    with FeedServer(seed_text.encode(), content_type="text/plain") as text_server:
        [article] = load_source(text_server.url("/article"), session=session, base_url=BASE)

    assert len(articles) == 3
    assert article.url == articles[0].url


def test_a_private_url_is_refused_by_the_default_session(seed_feed_bytes: bytes) -> None:
    with FeedServer(seed_feed_bytes) as server:
        with pytest.raises(IngestError) as caught:
            load_source(server.url(), base_url=None)

        assert server.requests == []
    assert isinstance(caught.value.__cause__, BlockedAddress)
    assert caught.value.where == server.url()


def test_an_http_error_names_the_status(seed_feed_bytes: bytes) -> None:
    session = make_session(allow_private=True)
    with FeedServer(seed_feed_bytes) as server, pytest.raises(IngestError) as caught:
        load_source(server.url("/gone"), session=session, base_url=None)

    assert str(caught.value) == f"{server.url('/gone')}: the server answered 410"
