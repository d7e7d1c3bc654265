"""Per-channel formatting options: UTM parameters, threads, how many hashtags.

A channel's config may carry them under ``format`` (``{"format": {"thread": true, "utm":
{"campaign": "weekly"}, "max_hashtags": 2}}``); all are off by default.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote_plus, urlsplit, urlunsplit

UTM_MEDIUM = "social"


def with_utm(
    url: str,
    *,
    source: str,
    medium: str = UTM_MEDIUM,
    campaign: str | None = None,
    content: str | None = None,
) -> str:
    """``url`` with ``utm_source``/``utm_medium``/``utm_campaign``/``utm_content`` set. The
    existing query is kept byte for byte (order and encoding), except earlier values of the
    same UTM keys, which these replace; the fragment stays last."""
    parts = urlsplit(url)
    utm = {"utm_source": source, "utm_medium": medium}
    if campaign:
        utm["utm_campaign"] = campaign
    if content:
        utm["utm_content"] = content
    kept = [
        pair
        for pair in parts.query.split("&")
        if pair and unquote_plus(pair.split("=", 1)[0]) not in utm
    ]
    added = [f"{key}={quote(value, safe='')}" for key, value in utm.items()]
    return urlunsplit(parts._replace(query="&".join(kept + added)))


@dataclass(frozen=True)
class Utm:
    """UTM parameters for one channel; ``source`` defaults to the platform's name."""

    source: str | None = None
    medium: str = UTM_MEDIUM
    campaign: str | None = None
    content: str | None = None

    def apply(self, url: str, platform: str) -> str:
        return with_utm(
            url,
            source=self.source or platform,
            medium=self.medium,
            campaign=self.campaign,
            content=self.content,
        )


@dataclass(frozen=True)
class PostOptions:
    thread: bool = False
    utm: Utm | None = None
    max_hashtags: int | None = None

    @classmethod
    def from_config(cls, data: Mapping[str, Any] | None) -> PostOptions:
        """Options from a channel's ``format`` config; ValueError names what is wrong."""
        if not data:
            return cls()
        if not isinstance(data, Mapping):
            raise ValueError("format: expected an object")
        unknown = set(data) - {"thread", "utm", "max_hashtags"}
        if unknown:
            raise ValueError(
                f"format: unknown option(s) {', '.join(sorted(unknown))}; "
                "known: thread, utm, max_hashtags"
            )
        thread = data.get("thread", False)
        if not isinstance(thread, bool):
            raise ValueError("format.thread: expected true or false")
        max_hashtags = data.get("max_hashtags")
        if max_hashtags is not None and (
            not isinstance(max_hashtags, int) or isinstance(max_hashtags, bool) or max_hashtags < 0
        ):
            raise ValueError("format.max_hashtags: expected a whole number ≥ 0")
        return cls(thread=thread, utm=_utm(data.get("utm")), max_hashtags=max_hashtags)


def _utm(value: Any) -> Utm | None:
    if value is None or value is False:
        return None
    if value is True:
        return Utm()
    if not isinstance(value, Mapping):
        raise ValueError("format.utm: expected true, false or an object")
    unknown = set(value) - {"source", "medium", "campaign", "content"}
    if unknown:
        raise ValueError(
            f"format.utm: unknown key(s) {', '.join(sorted(unknown))}; "
            "known: source, medium, campaign, content"
        )
    for key, item in value.items():
        if item is not None and (not isinstance(item, str) or not item.strip()):
            raise ValueError(f"format.utm.{key}: expected a non-empty string")
    return Utm(
        source=value.get("source"),
        medium=value.get("medium") or UTM_MEDIUM,
        campaign=value.get("campaign"),
        content=value.get("content"),
    )
