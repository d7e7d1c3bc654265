"""RSS 2.0 and Atom feeds: conditional fetching and parsing every item into an ``Article``.

feedparser only ever sees bytes we already hold (``io.BytesIO``): given a string it may open a
file or a URL itself. A feed that is not well-formed XML is refused as a whole; within a good
feed, an item that cannot become an article (no title, no link, a repeated GUID) is skipped and
reported in ``FeedParse.problems`` while the other items are ingested.
"""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from calendar import timegm
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any, Literal
from urllib.parse import urljoin, urlsplit

import feedparser
import requests

from distributor.domain import Article, Image
from distributor.http import fetch_bytes
from distributor.ingest.errors import IngestError
from distributor.ingest.sanitize import (
    clean_html,
    has_placeholder,
    paragraphs_to_html,
    plain_text,
    single_line,
)

DEFAULT_MAX_BYTES = 5_000_000
TITLE_MAX = 300
SHORT_MAX = 300
FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.1"
)
_MEDIA_NAMESPACES = ("http://search.yahoo.com/mrss/", "http://search.yahoo.com/mrss")
_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".avif")
_ENTITY_DECLARATION = re.compile(rb"<!ENTITY", re.IGNORECASE)


@dataclass(frozen=True)
class FeedParse:
    """Every article the feed holds, and one error per item that could not become one."""

    articles: tuple[Article, ...]
    problems: tuple[IngestError, ...] = ()


@dataclass(frozen=True)
class FetchResult:
    status: Literal["modified", "not_modified"]
    body: bytes
    etag: str | None
    last_modified: str | None
    content_type: str | None = None


def fetch_feed(
    session: requests.Session,
    url: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> FetchResult:
    """Conditional GET: a 304 is ``not_modified`` and keeps the validators we sent.

    Network failures and HTTP error statuses raise the ``requests`` exception (``BlockedAddress``
    for private addresses, ``HTTPError`` with the response for 4xx/5xx) so the poller can tell
    a gone feed from a flaky one.
    """
    headers = {"Accept": FEED_ACCEPT}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    response = fetch_bytes(session, url, max_bytes=max_bytes, headers=headers)
    if response.status_code == 304:
        return FetchResult(
            status="not_modified",
            body=b"",
            etag=response.headers.get("ETag") or etag,
            last_modified=response.headers.get("Last-Modified") or last_modified,
        )
    response.raise_for_status()
    return FetchResult(
        status="modified",
        body=response.content,
        etag=response.headers.get("ETag"),
        last_modified=response.headers.get("Last-Modified"),
        content_type=response.headers.get("Content-Type"),
    )


def parse_feed(
    data: bytes,
    *,
    source: str,
    headers: dict[str, str] | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> FeedParse:
    """Parse every item of an RSS or Atom document. ``source`` names it in errors; ``headers``
    are the HTTP response headers (their content type and charset guide decoding)."""
    if not data.strip():
        raise IngestError("the document is empty", source)
    if len(data) > max_bytes:
        raise IngestError(f"the feed is larger than {max_bytes} bytes", source)
    parsed = feedparser.parse(
        io.BytesIO(data),
        response_headers={key.lower(): value for key, value in (headers or {}).items()},
    )
    if parsed.get("bozo") and not isinstance(
        parsed.get("bozo_exception"), feedparser.ThingsNobodyCaresAboutButMe
    ):
        raise _malformed(parsed.get("bozo_exception"), source)
    if not parsed.get("version"):
        raise IngestError("not an RSS or Atom feed", source)

    entries = parsed.get("entries", [])
    media = _media_by_item(data, len(entries))
    articles: list[Article] = []
    problems: list[IngestError] = []
    seen: set[str] = set()
    for number, entry in enumerate(entries, start=1):
        try:
            article = _article(entry, media[number - 1] if media else None)
        except IngestError as exc:
            problems.append(exc.within(_item_where(number, entry)))
            continue
        if article.identity in seen:
            problems.append(
                IngestError(
                    f"repeats an earlier item ({article.identity})", _item_where(number, entry)
                )
            )
            continue
        seen.add(article.identity)
        articles.append(article)
    return FeedParse(tuple(articles), tuple(problems))


def _malformed(reason: Any, source: str) -> IngestError:
    where = source
    line = getattr(reason, "getLineNumber", None)
    if callable(line):
        where = f"{source}, line {line()}"
    message = reason.getMessage() if hasattr(reason, "getMessage") else str(reason)
    return IngestError(f"not a well-formed feed ({message})", where)


def _item_where(number: int, entry: Any) -> str:
    guid = entry.get("id")
    return f"feed item {number} <{guid}>" if guid else f"feed item {number}"


def _article(entry: Any, media: _Media | None) -> Article:
    title = _title(entry)
    if not title:
        raise IngestError("no title")
    link = entry.get("link") or ""
    if not link:
        raise IngestError("no link")
    parts = urlsplit(link)
    if parts.scheme not in ("http", "https") or not parts.netloc or has_placeholder(link):
        raise IngestError(f"the link {link!r} is not an absolute http(s) URL")

    body_html = _body_html(entry, link)
    summary = entry.get("summary") or ""
    # feedparser copies the content into the summary when an item has none of its own.
    is_own_summary = not entry.get("content") or summary != entry["content"][0].get("value")
    enclosures = [x for x in entry.get("links", []) if x.get("rel") == "enclosure"]
    return Article(
        title=title,
        lead=plain_text(summary) if is_own_summary else "",
        body_html=body_html,
        url=link,
        guid=entry.get("id") or None,
        categories=_categories(entry),
        image=_image(entry, media, enclosures, link),
        pdf_url=_pdf_url(body_html, enclosures, link),
        published_at=_published(entry),
    )


def _title(entry: Any) -> str:
    raw = entry.get("title") or ""
    if (entry.get("title_detail") or {}).get("type") == "text/html":
        return plain_text(raw, TITLE_MAX)
    return single_line(raw, TITLE_MAX)


def _body_html(entry: Any, link: str) -> str:
    for content in entry.get("content") or []:
        kind = content.get("type", "")
        value = content.get("value", "")
        if kind in ("text/html", "application/xhtml+xml"):
            return clean_html(value, base_url=link)
        if kind == "text/plain":
            return paragraphs_to_html([p for p in value.split("\n\n") if p.strip()])
    return ""


def _categories(entry: Any) -> tuple[str, ...]:
    names = (
        single_line(tag.get("label") or tag.get("term") or "", SHORT_MAX)
        for tag in entry.get("tags") or []
    )
    return tuple(dict.fromkeys(name for name in names if name))


def _published(entry: Any) -> datetime | None:
    stamp = entry.get("published_parsed") or entry.get("updated_parsed")
    if not stamp:
        return None
    # feedparser has already converted the date to UTC; timegm reads the struct as UTC.
    return datetime.fromtimestamp(timegm(stamp), tz=UTC)


@dataclass(frozen=True)
class _Media:
    url: str | None = None
    credit: str | None = None
    alt: str | None = None


def _image(entry: Any, media: _Media | None, enclosures: list[Any], link: str) -> Image | None:
    if media is None:
        media = _media_from_feedparser(entry)
    url = media.url
    if not url:
        url = next(
            (x.get("href") for x in enclosures if str(x.get("type", "")).startswith("image/")),
            None,
        )
    url = _absolute_http(url, link)
    credit = single_line(media.credit, SHORT_MAX) if media.credit else None
    alt = plain_text(media.alt) if media.alt else None
    if not (url or credit or alt):
        return None
    return Image(url=url, credit=credit or None, alt=alt or None)


def _media_from_feedparser(entry: Any) -> _Media:
    """Fallback when the feed could not be read a second time: feedparser keeps media:credit but
    files media:description under the item's summary, so no alt text here."""
    url = None
    for item in [*(entry.get("media_content") or []), *(entry.get("media_thumbnail") or [])]:
        if _looks_like_image(item.get("medium"), item.get("type"), item.get("url")):
            url = item.get("url")
            break
    credits = entry.get("media_credit") or []
    return _Media(url=url, credit=credits[0].get("content") if credits else None)


def _media_by_item(data: bytes, expected: int) -> list[_Media] | None:
    """Media RSS image, credit and description per item, read with ElementTree because feedparser
    overwrites the item summary with media:description. Any doubt returns None."""
    if expected == 0 or _ENTITY_DECLARATION.search(data):
        # Entity declarations are refused outright so nothing can expand here.
        return None
    try:
        root = ET.fromstring(data)
    except ET.ParseError:
        return None
    items = [el for el in root.iter() if _local(el.tag) in ("item", "entry") and el is not root]
    if len(items) != expected:
        return None
    return [_media_of(item) for item in items]


def _media_of(item: ET.Element) -> _Media:
    item_credit = _media_text(item, "credit")
    item_description = _media_text(item, "description")
    for element in item.iter():
        if not _is_media(element.tag, ("content", "thumbnail")):
            continue
        url = element.get("url")
        if not _looks_like_image(element.get("medium"), element.get("type"), url):
            continue
        return _Media(
            url=url,
            credit=_media_text(element, "credit") or item_credit,
            alt=_media_text(element, "description") or item_description,
        )
    return _Media(credit=item_credit, alt=item_description)


def _media_text(parent: ET.Element, name: str) -> str | None:
    """Text of a media:<name> that belongs to ``parent`` itself or to its media:group."""
    for child in parent:
        if _is_media(child.tag, (name,)) and (child.text or "").strip():
            return (child.text or "").strip()
    for child in parent:
        if _is_media(child.tag, ("group",)):
            found = _media_text(child, name)
            if found:
                return found
    return None


def _is_media(tag: str, names: tuple[str, ...]) -> bool:
    return any(tag == f"{{{ns}}}{name}" for ns in _MEDIA_NAMESPACES for name in names)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _looks_like_image(medium: str | None, kind: str | None, url: str | None) -> bool:
    if medium or kind:
        return medium == "image" or (kind or "").startswith("image/")
    return bool(url) and urlsplit(url or "").path.lower().endswith(_IMAGE_SUFFIXES)


def _absolute_http(url: str | None, base: str) -> str | None:
    if not url:
        return None
    absolute = urljoin(base, url.strip())
    parts = urlsplit(absolute)
    usable = parts.scheme in ("http", "https") and parts.netloc and not has_placeholder(absolute)
    return absolute if usable else None


class _Hrefs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.hrefs.extend(value for name, value in attrs if name == "href" and value)


def _pdf_url(body_html: str, enclosures: list[Any], link: str) -> str | None:
    collector = _Hrefs()
    collector.feed(body_html)
    candidates = [*collector.hrefs]
    candidates += [x.get("href", "") for x in enclosures if x.get("type") == "application/pdf"]
    for href in candidates:
        absolute = _absolute_http(href, link)
        if absolute and urlsplit(absolute).path.lower().endswith(".pdf"):
            return absolute
    for enclosure in enclosures:
        if enclosure.get("type") == "application/pdf":
            return _absolute_http(enclosure.get("href"), link)
    return None
