"""The plain-text article form (as copied from the website; see
``tests/fixtures/articles/*.txt``): blank-line separated blocks::

    image credit
    category
    title
    lead paragraph
    body paragraph …
    Download as PDF          (optional)
    Related articles         (optional, then title / summary pairs)
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import urlsplit

from distributor.domain import Article, Image, RelatedArticle
from distributor.ingest.errors import IngestError
from distributor.ingest.sanitize import (
    clean_paragraph,
    has_placeholder,
    paragraphs_to_html,
    single_line,
)

TITLE_MAX = 300
CREDIT_MAX = 300
CATEGORY_MAX = 100
PDF_MARKER = "download as pdf"
RELATED_MARKER = "related articles"


@dataclass(frozen=True)
class _Block:
    text: str
    line: int  # 1-based line where the block starts

    @property
    def where(self) -> str:
        return f"line {self.line}"


def parse_plaintext(text: str, *, url: str | None = None, base_url: str | None = None) -> Article:
    """Parse the plain-text form. The canonical URL is ``url`` when given, else ``base_url``
    followed by the title's slug and "/" (how the website names its article pages)."""
    blocks = _blocks(text)
    end_line = text.count("\n") + 1 if text else 1
    header_names = ("image credit", "category", "title", "lead paragraph")
    for index, name in enumerate(header_names):
        if index >= len(blocks):
            raise IngestError(f"the text ends before the {name}", f"line {end_line}")
        if _is_marker(blocks[index].text):
            raise IngestError(
                f"expected the {name}, found {blocks[index].text!r}", blocks[index].where
            )
    credit_block, category_block, title_block, lead_block = blocks[:4]

    body: list[str] = []
    position = 4
    while position < len(blocks) and not _is_marker(blocks[position].text):
        body.append(blocks[position].text)
        position += 1
    if not body:
        where = blocks[position].where if position < len(blocks) else f"line {end_line}"
        raise IngestError("no body paragraphs after the lead", where)

    has_pdf = position < len(blocks) and _normal(blocks[position].text) == PDF_MARKER
    if has_pdf:
        position += 1
    related = _related(blocks[position:], end_line)

    title = single_line(title_block.text, TITLE_MAX)
    canonical = _canonical_url(title, title_block, url=url, base_url=base_url)
    return Article(
        title=title,
        lead=clean_paragraph(lead_block.text),
        body_html=paragraphs_to_html(body),
        url=canonical,
        categories=(single_line(category_block.text, CATEGORY_MAX),),
        image=Image(url=None, credit=single_line(credit_block.text, CREDIT_MAX), alt=None),
        pdf_url=canonical if has_pdf else None,
        related=related,
    )


def slugify(title: str) -> str:
    """The website's slug: ASCII lowercase, punctuation dropped, spaces to hyphens."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode("ascii")
    words = re.sub(r"[^a-z0-9\s-]", "", ascii_title.lower()).split()
    return re.sub(r"-{2,}", "-", "-".join(words)).strip("-")


def _related(blocks: list[_Block], end_line: int) -> tuple[RelatedArticle, ...]:
    if not blocks:
        return ()
    heading, pairs = blocks[0], blocks[1:]
    if _normal(heading.text) != RELATED_MARKER:
        raise IngestError(
            f"expected 'Related articles' or the end of the text, found {heading.text!r}",
            heading.where,
        )
    if not pairs:
        raise IngestError("'Related articles' is followed by no articles", heading.where)
    if len(pairs) % 2:
        raise IngestError(f"related article {pairs[-1].text!r} has no summary", f"line {end_line}")
    return tuple(
        RelatedArticle(
            title=single_line(pairs[i].text, TITLE_MAX), summary=clean_paragraph(pairs[i + 1].text)
        )
        for i in range(0, len(pairs), 2)
    )


def _canonical_url(
    title: str, title_block: _Block, *, url: str | None, base_url: str | None
) -> str:
    if url:
        _require_http_url(url, "the article URL")
        return url
    if not base_url:
        raise IngestError(
            "no article URL: give the URL, or a base URL to derive it from the title",
            title_block.where,
        )
    _require_http_url(base_url, "the base URL")
    slug = slugify(title)
    if not slug:
        raise IngestError(
            "the title has no letters or digits to make a URL from", title_block.where
        )
    return f"{base_url.rstrip('/')}/{slug}/"


def _require_http_url(value: str, what: str) -> None:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or has_placeholder(value):
        raise IngestError(f"{what} must be an absolute http(s) URL, not {value!r}")


def _blocks(text: str) -> list[_Block]:
    blocks: list[_Block] = []
    current: list[str] = []
    start = 0
    for number, raw in enumerate(text.removeprefix("\ufeff").splitlines(), start=1):
        line = raw.strip()
        if line:
            if not current:
                start = number
            current.append(line)
        elif current:
            blocks.append(_Block(" ".join(current), start))
            current = []
    if current:
        blocks.append(_Block(" ".join(current), start))
    return blocks


def _normal(text: str) -> str:
    return " ".join(text.split()).lower()


def _is_marker(text: str) -> bool:
    return _normal(text) in (PDF_MARKER, RELATED_MARKER)
