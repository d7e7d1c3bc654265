"""The nouns of the service, free of infrastructure: articles, renditions, delivery states."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


def canonical_hash(data: Any) -> str:
    """sha256 of a canonical JSON form: equal content, equal hash, whatever the key order."""
    encoded = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Image:
    url: str | None = None
    credit: str | None = None
    alt: str | None = None


@dataclass(frozen=True)
class RelatedArticle:
    title: str
    summary: str = ""
    url: str | None = None


@dataclass(frozen=True)
class Article:
    """An article as ingested: plain-text fields, and ``body_html`` already sanitised."""

    title: str
    lead: str
    body_html: str
    url: str | None = None
    guid: str | None = None
    categories: tuple[str, ...] = ()
    image: Image | None = None
    pdf_url: str | None = None
    related: tuple[RelatedArticle, ...] = ()
    published_at: datetime | None = None

    @property
    def identity(self) -> str:
        """The stable key: the feed GUID when there is one, else the canonical URL."""
        key = self.guid or self.url
        if not key:
            raise ValueError("an article needs a GUID or a canonical URL to be stored")
        return key

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["published_at"] = self.published_at.isoformat() if self.published_at else None
        data["categories"] = list(self.categories)
        data["related"] = [asdict(r) for r in self.related]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Article:
        image = data.get("image")
        published = data.get("published_at")
        return cls(
            title=data["title"],
            lead=data.get("lead", ""),
            body_html=data.get("body_html", ""),
            url=data.get("url"),
            guid=data.get("guid"),
            categories=tuple(data.get("categories") or ()),
            image=Image(**image) if image else None,
            pdf_url=data.get("pdf_url"),
            related=tuple(RelatedArticle(**r) for r in data.get("related") or ()),
            published_at=datetime.fromisoformat(published) if published else None,
        )

    def content_hash(self) -> str:
        """Hash of what a reader sees; identity and publication date do not change the content."""
        data = self.to_dict()
        for volatile in ("guid", "published_at"):
            data.pop(volatile)
        return canonical_hash(data)


@dataclass(frozen=True)
class RenderError:
    """A rendering failure shown in the preview instead of a traceback."""

    message: str
    where: str = ""

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


@dataclass(frozen=True)
class EmailRendition:
    """One newsletter, rendered once per article; ``html`` and ``text`` carry the
    per-recipient placeholders in ``PLACEHOLDERS``."""

    subject: str
    preheader: str
    html: str
    text: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


UNSUBSCRIBE_PLACEHOLDER = "%%UNSUBSCRIBE_URL%%"
PREFERENCES_PLACEHOLDER = "%%PREFERENCES_URL%%"
PLACEHOLDERS = (UNSUBSCRIBE_PLACEHOLDER, PREFERENCES_PLACEHOLDER)


def strip_placeholders(text: str) -> str:
    """Remove every per-recipient placeholder, repeatedly, so that removing an inner one
    cannot join the halves around it into a new one."""
    if "%%" not in text:  # every placeholder starts with it
        return text
    previous = None
    while previous != text:
        previous = text
        for placeholder in PLACEHOLDERS:
            text = text.replace(placeholder, "")
    return text


@dataclass(frozen=True)
class LinkCard:
    uri: str
    title: str
    description: str = ""
    image_url: str | None = None


@dataclass(frozen=True)
class PostRendition:
    """A social post as it will be sent: text measured by the platform's own rule."""

    platform: str
    text: str
    length: int
    limit: int
    link: str | None = None
    card: LinkCard | None = None
    image: Image | None = None
    facets: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # Follow-up texts posted as replies to ``text`` (an optional thread), each within ``limit``.
    thread: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class DeliveryState(StrEnum):
    PENDING = "pending"
    CLAIMED = "claimed"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    UNKNOWN = "unknown"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


FINAL_STATES = frozenset(
    {DeliveryState.SENT, DeliveryState.FAILED, DeliveryState.EXPIRED, DeliveryState.CANCELLED}
)


class Role(StrEnum):
    EDITOR = "editor"
    APPROVER = "approver"
    ADMIN = "admin"
