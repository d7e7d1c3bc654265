from __future__ import annotations

from datetime import UTC, datetime

import pytest
import requests

from distributor.domain import Image
from distributor.http import BlockedAddress, make_session
from distributor.ingest.errors import IngestError
from distributor.ingest.feeds import fetch_feed, parse_feed

from .feed_server import FeedServer, ipv6_loopback_available
from .io_watch import recording_io

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://example.org/">
  <title>Example updates</title>
  <id>urn:uuid:feed</id>
  <updated>2024-05-02T10:00:00Z</updated>
  <entry>
    <title type="html">Rights &amp;amp; &lt;em&gt;wrongs&lt;/em&gt;</title>
    <id>urn:uuid:entry-1</id>
    <link rel="alternate" href="/news/rights-and-wrongs/"/>
    <link rel="enclosure" type="image/png" href="/img/hero.png"/>
    <published>2024-05-02T12:00:00+02:00</published>
    <updated>2024-05-03T12:00:00+02:00</updated>
    <category term="news" label="News"/>
    <summary>A short summary.</summary>
    <content type="html">&lt;p&gt;Body with
      &lt;a href="/files/report.PDF"&gt;the report&lt;/a&gt;.&lt;/p&gt;</content>
  </entry>
  <entry>
    <title>Second</title>
    <id>urn:uuid:entry-2</id>
    <link href="https://example.org/news/second/"/>
    <updated>2024-05-01T08:00:00Z</updated>
    <content type="xhtml">
      <div xmlns="http://www.w3.org/1999/xhtml"><p>Only content.</p></div>
    </content>
  </entry>
</feed>
"""

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE rss [
<!ENTITY lol "lol">
<!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
<!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
<!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
<!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
<!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
<!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<rss version="2.0"><channel><title>&lol9;</title>
<item><title>&lol9;</title><link>https://example.org/a</link></item>
</channel></rss>
"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY secret SYSTEM "file:///etc/passwd">
<!ENTITY remote SYSTEM "http://192.0.2.1/x">]>
<rss version="2.0"><channel><title>t</title>
<item><title>&secret;&remote;</title><link>https://example.org/a</link></item>
</channel></rss>
"""

HTML_PAGE = b"""<!DOCTYPE html>
<html><head><title>Latest updates</title></head>
<body><p>Welcome<br><img src="x.png"></body></html>
"""


def _rss(items: str) -> bytes:
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        f"<link>https://example.org/</link>{items}</channel></rss>"
    ).encode()


def test_the_seed_feed_yields_every_item(seed_feed_bytes: bytes) -> None:
    parsed = parse_feed(seed_feed_bytes, source="ishr-news.rss")

    assert parsed.problems == ()
    assert [a.guid for a in parsed.articles] == [
        "28714 at https://ishr.ch",
        "31002 at https://ishr.ch",
        "31040 at https://ishr.ch",
    ]
    assert [a.categories for a in parsed.articles] == [
        ("News", "Human rights defenders", "UN Secretary-General"),
        ("News", "UN80"),
        ("News", "Venezuela", "Latin America"),
    ]


def test_the_first_seed_item_carries_image_credit_alt_and_pdf(seed_feed_bytes: bytes) -> None:
    first = parse_feed(seed_feed_bytes, source="ishr-news.rss").articles[0]

    assert first.image == Image(
        url="https://ishr.ch/sites/default/files/styles/hero/public/un-photo-manuel-elias.jpg",
        credit="UN Photo / Manuel Elias",
        alt="The UN Secretary-General meets civil society representatives",
    )
    assert first.pdf_url == (
        "https://ishr.ch/sites/default/files/documents/civil-society-sg-meeting.pdf"
    )
    assert first.lead.startswith("Members of six international NGOs")
    assert first.body_html.startswith("<p>Human rights defenders work")
    assert first.published_at == datetime(2023, 3, 6, 9, 0, tzinfo=UTC)


def test_items_without_media_have_no_image(seed_feed_bytes: bytes) -> None:
    articles = parse_feed(seed_feed_bytes, source="ishr-news.rss").articles

    assert articles[1].image is None
    assert articles[2].pdf_url is None


def test_an_atom_feed_parses() -> None:
    first, second = parse_feed(ATOM, source="atom").articles

    # An HTML title is reduced to its text: "&amp;amp;" is an escaped "&amp;", which is "&".
    assert first.title == "Rights & wrongs"
    assert first.guid == "urn:uuid:entry-1"
    assert first.url == "https://example.org/news/rights-and-wrongs/"
    assert first.lead == "A short summary."
    assert first.categories == ("News",)
    assert first.image == Image(url="https://example.org/img/hero.png")
    assert first.pdf_url == "https://example.org/files/report.PDF"
    assert first.published_at == datetime(2024, 5, 2, 10, 0, tzinfo=UTC)
    assert second.body_html == "<p>Only content.</p>"
    # feedparser repeats the content as a summary when there is none; that is not a lead.
    assert second.lead == ""
    assert second.published_at == datetime(2024, 5, 1, 8, 0, tzinfo=UTC)


def test_hostile_content_in_a_feed_is_sanitised() -> None:
    body = (
        '<p onclick="x()">Hi <a href="javascript:alert(1)">click</a></p>'
        '<script>alert(1)</script><style>p{}</style><iframe src="https://e.example/"></iframe>'
        '<p><img src="x" onerror="alert(1)">{{ 7*7 }}</p>'
    )
    feed = _rss(
        "<item><title>Bad\r\nguy</title><link>https://example.org/a</link>"
        f"<description><![CDATA[Lead: {body}]]></description>"
        '<content:encoded xmlns:content="http://purl.org/rss/1.0/modules/content/">'
        f"<![CDATA[{body}]]></content:encoded></item>"
    )

    [article] = parse_feed(feed, source="hostile").articles

    assert article.title == "Bad guy"
    for removed in ("script", "onerror", "onclick", "javascript", "<style", "iframe", "alert"):
        assert removed not in article.body_html
        assert removed not in article.lead
    assert "{{ 7*7 }}" in article.body_html
    assert "{{ 7*7 }}" in article.lead


def test_an_item_without_a_title_or_link_is_reported_and_the_rest_ingested() -> None:
    feed = _rss(
        "<item><title>Good</title><link>https://example.org/good</link></item>"
        "<item><guid>no-title</guid><link>https://example.org/x</link></item>"
        "<item><title>No link</title></item>"
        "<item><title>Good again</title><link>https://example.org/good</link></item>"
    )

    parsed = parse_feed(feed, source="mixed")

    assert [a.title for a in parsed.articles] == ["Good"]
    assert [str(p) for p in parsed.problems] == [
        "feed item 2 <no-title>: no title",
        "feed item 3: no link",
        "feed item 4: repeats an earlier item (https://example.org/good)",
    ]


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "the document is empty"),
        (b"   \n", "the document is empty"),
        (HTML_PAGE, "not a well-formed feed"),
        (BILLION_LAUGHS, "not a well-formed feed (undefined entity)"),
        (b"Just some words.", "not a well-formed feed"),
        (b'{"title": "json"}', "not a well-formed feed"),
        (b'<html xmlns="http://www.w3.org/1999/xhtml"><p>x</p></html>', "not an RSS or Atom feed"),
    ],
    ids=["empty", "blank", "html", "billion-laughs", "text", "json", "xhtml"],
)
def test_malformed_input_is_refused_without_touching_files_or_network(
    data: bytes, reason: str
) -> None:
    with recording_io() as seen, pytest.raises(IngestError) as caught:
        parse_feed(data, source="bad")

    assert reason in str(caught.value)
    assert str(caught.value).startswith("bad")
    assert seen == []


def test_a_truncated_feed_is_refused_with_its_line(seed_feed_bytes: bytes) -> None:
    truncated = seed_feed_bytes[: len(seed_feed_bytes) // 2]

    with recording_io() as seen, pytest.raises(IngestError) as caught:
        parse_feed(truncated, source="half.rss")

    assert caught.value.where.startswith("half.rss, line ")
    assert "not a well-formed feed" in caught.value.message
    assert seen == []


def test_external_entities_are_never_fetched() -> None:
    with recording_io() as seen:
        try:
            parsed = parse_feed(EXTERNAL_ENTITY, source="xxe")
        except IngestError as refused:
            outcome = str(refused)
        else:
            outcome = repr(parsed)

    assert seen == []
    assert "root:" not in outcome


def test_a_feed_over_the_size_cap_is_refused_before_parsing(seed_feed_bytes: bytes) -> None:
    with pytest.raises(IngestError, match="larger than 100 bytes"):
        parse_feed(seed_feed_bytes, source="big", max_bytes=100)


def test_a_conditional_get_returns_not_modified_the_second_time(seed_feed_bytes: bytes) -> None:
    session = make_session(allow_private=True)
    with FeedServer(seed_feed_bytes) as server:
        first = fetch_feed(session, server.url(), etag=None, last_modified=None)
        second = fetch_feed(
            session, server.url(), etag=first.etag, last_modified=first.last_modified
        )

    assert first.status == "modified"
    assert first.body == seed_feed_bytes
    assert first.etag == '"feed-v1"'
    assert first.last_modified == "Mon, 06 Mar 2023 09:12:00 GMT"
    assert second.status == "not_modified"
    assert second.body == b""
    assert (second.etag, second.last_modified) == (first.etag, first.last_modified)
    assert server.requests[1]["If-None-Match"] == '"feed-v1"'
    assert server.requests[1]["If-Modified-Since"] == "Mon, 06 Mar 2023 09:12:00 GMT"


def test_last_modified_alone_is_enough_for_not_modified(seed_feed_bytes: bytes) -> None:
    session = make_session(allow_private=True)
    with FeedServer(seed_feed_bytes) as server:
        result = fetch_feed(
            session, server.url(), etag=None, last_modified="Mon, 06 Mar 2023 09:12:00 GMT"
        )

    assert result.status == "not_modified"


def test_a_changed_feed_is_fetched_again(seed_feed_bytes: bytes) -> None:
    session = make_session(allow_private=True)
    with FeedServer(seed_feed_bytes) as server:
        first = fetch_feed(session, server.url())
        server.etag = '"feed-v2"'
        second = fetch_feed(session, server.url(), etag=first.etag)

    assert second.status == "modified"
    assert second.etag == '"feed-v2"'


def test_an_http_error_status_raises_with_the_response(seed_feed_bytes: bytes) -> None:
    session = make_session(allow_private=True)
    with FeedServer(seed_feed_bytes) as server, pytest.raises(requests.HTTPError) as caught:
        fetch_feed(session, server.url("/gone"))

    assert caught.value.response is not None
    assert caught.value.response.status_code == 410


def test_a_fetched_feed_over_the_cap_is_refused(seed_feed_bytes: bytes) -> None:
    session = make_session(allow_private=True)
    with FeedServer(seed_feed_bytes) as server, pytest.raises(requests.RequestException):
        fetch_feed(session, server.url(), max_bytes=100)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_the_guard_refuses_loopback_and_the_server_sees_no_request(
    seed_feed_bytes: bytes, host: str
) -> None:
    session = make_session(allow_private=False)
    with FeedServer(seed_feed_bytes) as server:
        with pytest.raises(BlockedAddress):
            fetch_feed(session, server.url(host=host))

        assert server.requests == []


@pytest.mark.skipif(not ipv6_loopback_available(), reason="no IPv6 loopback on this machine")
def test_the_guard_refuses_ipv6_loopback_and_the_server_sees_no_request(
    seed_feed_bytes: bytes,
) -> None:
    session = make_session(allow_private=False)
    with FeedServer(seed_feed_bytes, host="::1") as server:
        with pytest.raises(BlockedAddress):
            fetch_feed(session, server.url())

        assert server.requests == []
