"""Turning an article source into ``Article`` values: a file or an http(s) URL holding an RSS or
Atom feed, the JSON form, or the plain-text form.

The format is taken from the extension when it names one (.rss .xml .atom .json .txt) and
otherwise from the content: XML is a feed, ``{`` or ``[`` is JSON, anything else plain text.
Every failure is an ``IngestError`` that names the source.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Literal
from urllib.parse import urlsplit

import requests

from distributor.domain import Article
from distributor.http import make_session
from distributor.ingest.errors import IngestError
from distributor.ingest.feeds import DEFAULT_MAX_BYTES, FeedParse, fetch_feed, parse_feed
from distributor.ingest.jsonform import parse_json
from distributor.ingest.plaintext import parse_plaintext

__all__ = [
    "DEFAULT_MAX_BYTES",
    "FeedParse",
    "IngestError",
    "detect_format",
    "fetch_feed",
    "load_source",
    "parse_feed",
    "parse_json",
    "parse_plaintext",
]

Format = Literal["feed", "json", "text"]
_BY_EXTENSION: dict[str, Format] = {
    ".rss": "feed",
    ".xml": "feed",
    ".atom": "feed",
    ".json": "json",
    ".txt": "text",
}


def load_source(
    source: str,
    *,
    session: requests.Session | None = None,
    base_url: str | None,
    url: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    problems: list[IngestError] | None = None,
) -> list[Article]:
    """Every article in ``source`` (a file path or an http(s) URL).

    ``url`` and ``base_url`` give a plain-text article its canonical URL (see
    ``parse_plaintext``). Feed items that cannot be ingested are appended to ``problems`` when
    a list is passed, and the good items returned; without one, any such item fails the whole
    source, so nothing is dropped silently. ``session`` defaults to a guarded one that refuses
    private addresses.
    """
    headers: dict[str, str] = {}
    if urlsplit(source).scheme in ("http", "https"):
        data, content_type = _download(source, session or make_session(), max_bytes)
        if content_type:
            headers["Content-Type"] = content_type
        path_part = urlsplit(source).path
    elif "://" in source:
        raise IngestError("only http(s) URLs and file paths can be read", source)
    else:
        data = _read_file(source, max_bytes)
        path_part = source

    kind = detect_format(data, name=path_part)
    sniffed = PurePosixPath(path_part).suffix.lower() not in _BY_EXTENSION
    if sniffed and (_looks_like_html(data) or (kind == "text" and _looks_binary(data))):
        raise IngestError("not a feed, JSON or article text", source)
    try:
        if kind == "feed":
            parsed = parse_feed(data, source=source, headers=headers, max_bytes=max_bytes)
            if parsed.problems and problems is None:
                raise _first_of(parsed.problems).within(source)
            if problems is not None:
                problems.extend(p.within(source) for p in parsed.problems)
            return list(parsed.articles)
        text = _decode(data, source)
        if kind == "json":
            return parse_json(text, base_url=base_url)
        return [parse_plaintext(text, url=url, base_url=base_url)]
    except IngestError as exc:
        if exc.where.startswith(source):
            raise
        raise exc.within(source) from exc


def detect_format(data: bytes, *, name: str = "") -> Format:
    """The form of ``data``: by a known extension of ``name``, else by its first character."""
    by_extension = _BY_EXTENSION.get(PurePosixPath(name).suffix.lower())
    if by_extension:
        return by_extension
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if head == b"<":
        return "feed"
    if head in (b"{", b"["):
        return "json"
    return "text"


def _looks_like_html(data: bytes) -> bool:
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith((b"<!doctype html", b"<html"))


def _looks_binary(data: bytes) -> bool:
    if b"\x00" in data[:8192]:
        return True
    try:
        data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return True
    return False


def _first_of(problems: tuple[IngestError, ...]) -> IngestError:
    first = problems[0]
    more = len(problems) - 1
    if not more:
        return first
    suffix = f" (and {more} more item{'s' if more > 1 else ''} with problems)"
    return IngestError(first.message + suffix, first.where)


def _download(source: str, session: requests.Session, max_bytes: int) -> tuple[bytes, str | None]:
    try:
        result = fetch_feed(session, source, max_bytes=max_bytes)
    except requests.HTTPError as exc:
        status = exc.response.status_code if exc.response is not None else "an error"
        raise IngestError(f"the server answered {status}", source) from exc
    except requests.RequestException as exc:
        raise IngestError(f"could not fetch: {exc}", source) from exc
    return result.body, result.content_type


def _read_file(source: str, max_bytes: int) -> bytes:
    path = Path(source)
    try:
        if path.stat().st_size > max_bytes:
            raise IngestError(f"the file is larger than {max_bytes} bytes", source)
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise IngestError(f"file not found: {source}") from exc
    except IsADirectoryError as exc:
        raise IngestError("is a directory, not a file", source) from exc
    except OSError as exc:
        raise IngestError(f"cannot read the file ({exc.strerror})", source) from exc


def _decode(data: bytes, source: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise IngestError(f"not UTF-8 text (byte {exc.start})", source) from exc
