"""The JSON article form (the JSON API, CLI files): one object or a list of them.

Text fields are plain text; ``body_html`` is sanitised HTML, ``body`` plain paragraphs separated
by blank lines. A batch is all or nothing: one invalid item rejects the whole batch, naming the
item (counted from 1) and the field, so a sender can fix it and resend.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from distributor.domain import Article, Image, RelatedArticle
from distributor.ingest.errors import IngestError
from distributor.ingest.plaintext import slugify
from distributor.ingest.sanitize import (
    clean_html,
    clean_paragraph,
    has_placeholder,
    paragraphs_to_html,
    single_line,
)

TITLE_MAX = 300
SHORT_MAX = 300


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an absolute http(s) URL")
    if has_placeholder(value):
        raise ValueError("must not contain a mailer placeholder")
    return value


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("needs a time zone, e.g. 2024-03-06T09:00:00Z")
    return value.astimezone(UTC)


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


HttpUrl = Annotated[str, AfterValidator(_http_url)]
AwareDatetime = Annotated[datetime, AfterValidator(_aware)]
Text = Annotated[str, AfterValidator(_not_blank)]


class _Strict(BaseModel):
    # Unknown fields are refused so that a misspelt "summray" is an error, not lost content.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class _ImageIn(_Strict):
    url: HttpUrl | None = None
    credit: str | None = None
    alt: str | None = None


class _RelatedIn(_Strict):
    title: Text
    summary: str = ""
    url: HttpUrl | None = None


class _ArticleIn(_Strict):
    title: Text
    lead: str = Field(default="", validation_alias=AliasChoices("lead", "summary"))
    body_html: str | None = None
    body: str | None = None
    url: HttpUrl | None = None
    guid: str | None = None
    categories: list[Text] = []
    image: _ImageIn | None = None
    pdf_url: HttpUrl | None = None
    related: list[_RelatedIn] = []
    published_at: AwareDatetime | None = None

    @model_validator(mode="before")
    @classmethod
    def _one_lead_name(cls, data: Any) -> Any:
        if isinstance(data, dict) and "lead" in data and "summary" in data:
            raise ValueError("give 'lead' or 'summary', not both")
        return data

    @model_validator(mode="after")
    def _one_body(self) -> _ArticleIn:
        if self.body_html is not None and self.body is not None:
            raise ValueError("give 'body_html' or 'body', not both")
        return self


def parse_json(data: bytes | str, *, base_url: str | None = None) -> list[Article]:
    """Articles from a JSON object or list. Without ``url`` or ``guid`` an item's URL is derived
    from ``base_url`` and its title, as for the plain-text form; with neither it is an error."""
    try:
        document = json.loads(data.removeprefix("\ufeff") if isinstance(data, str) else data)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise IngestError(f"not valid JSON: {exc.msg}", where) from exc
    except UnicodeDecodeError as exc:
        raise IngestError("not valid JSON: not UTF-8 text") from exc
    items = document if isinstance(document, list) else [document]
    if not items:
        raise IngestError("the JSON list holds no articles")
    return [_article(item, number, base_url) for number, item in enumerate(items, start=1)]


def _article(item: Any, number: int, base_url: str | None) -> Article:
    where = f"JSON item {number}"
    if not isinstance(item, dict):
        raise IngestError(f"expected an object, found {type(item).__name__}", where)
    try:
        parsed = _ArticleIn.model_validate(item)
    except ValidationError as exc:
        raise _field_error(exc, where) from exc

    title = single_line(parsed.title, TITLE_MAX)
    url = parsed.url
    if url is None and parsed.guid is None:
        if not base_url or not slugify(title):
            raise IngestError("needs a 'url' or a 'guid'", where)
        url = f"{base_url.rstrip('/')}/{slugify(title)}/"
    if parsed.body_html is not None:
        body_html = clean_html(parsed.body_html, base_url=url)
    else:
        body_html = paragraphs_to_html(_paragraphs(parsed.body or ""))
    image = parsed.image
    return Article(
        title=title,
        lead=clean_paragraph(parsed.lead),
        body_html=body_html,
        url=url,
        guid=parsed.guid or None,
        categories=tuple(dict.fromkeys(single_line(c, SHORT_MAX) for c in parsed.categories)),
        image=Image(
            url=image.url,
            credit=single_line(image.credit, SHORT_MAX) if image.credit else None,
            alt=clean_paragraph(image.alt) if image.alt else None,
        )
        if image and (image.url or image.credit or image.alt)
        else None,
        pdf_url=parsed.pdf_url,
        related=tuple(
            RelatedArticle(
                title=single_line(r.title, TITLE_MAX), summary=clean_paragraph(r.summary), url=r.url
            )
            for r in parsed.related
        ),
        published_at=parsed.published_at,
    )


def _paragraphs(body: str) -> list[str]:
    blocks: list[str] = []
    current: list[str] = []
    for line in body.splitlines():
        if line.strip():
            current.append(line.strip())
        elif current:
            blocks.append(" ".join(current))
            current = []
    if current:
        blocks.append(" ".join(current))
    return [cleaned for cleaned in (clean_paragraph(b) for b in blocks) if cleaned]


def _field_error(exc: ValidationError, where: str) -> IngestError:
    first = exc.errors()[0]
    location = "".join(
        f"[{part}]" if isinstance(part, int) else f".{part}" for part in first["loc"]
    ).lstrip(".")
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        message = "unknown field"
    elif first["type"] == "missing":
        message = "is required"
    others = len(exc.errors()) - 1
    if others:
        message += f" (and {others} more problem{'s' if others > 1 else ''})"
    return IngestError(message, f"{where}, field '{location}'" if location else where)
