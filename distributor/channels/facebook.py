"""Facebook Pages: one post per delivery on a Page, through the Graph API with a Page token.

A rendition with an image (and its alt text) becomes a photo post (``/{page}/photos`` with
``caption`` and ``alt_text_custom``), the link staying clickable in the caption; anything
else is a link post (``/{page}/feed`` with ``message`` and ``link``), whose preview Facebook
builds from the article's OpenGraph tags. Either way one call makes the post.

Graph has no idempotency key. After an ambiguous outcome ``lookup`` reads the Page's posts
since the delivery was created and matches the article link (or the whole text). A repeat of
the Page's previous post is refused with error 506, which is mapped to "ambiguous" so the
ledger looks the post up instead of failing.

A Page token obtained through a long-lived user token does not expire (until a password change
or a lost role); when it does, Graph answers 190 and the channel needs reconnecting. There is
no refresh grant for Page tokens.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, ClassVar

import requests
from pydantic import BaseModel, Field, SecretStr

from distributor.channels import meta
from distributor.channels.base import (
    Channel,
    ChannelError,
    Outgoing,
    RateLimit,
    Receipt,
    StateStore,
)
from distributor.channels.lookup import aware, posted_since
from distributor.domain import PostRendition

_SPACE = re.compile(r"\s+")
_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp"}


class Facebook(Channel):
    """Posts to one Facebook Page (token with pages_manage_posts and pages_read_engagement)."""

    kind: ClassVar[str] = "facebook"
    # Page tokens fall under Business Use Case limits: 4,800 calls × engaged users per rolling
    # 24 h. A page with a single engaged user gets 4,800 a day: 200 an hour.
    rate_limit: ClassVar[RateLimit | None] = RateLimit(requests=200, per_seconds=3600)

    class Config(BaseModel):
        page_id: str = Field(pattern=r"^[0-9]+$")
        page_access_token: SecretStr
        api_base: str = "https://graph.facebook.com/v25.0"
        # From Graph's debug_token when the token was connected; none for a Page token that
        # came from a long-lived user token.
        token_expires_at: datetime | None = None

    def __init__(self, config: BaseModel, http: requests.Session, state: StateStore) -> None:
        if not isinstance(config, Facebook.Config):
            raise TypeError(f"Facebook needs a Facebook.Config, not {type(config).__name__}")
        super().__init__(config, http, state)
        self.settings = config
        self.base = config.api_base.rstrip("/")

    # -- the contract ---------------------------------------------------------------------

    def publish(self, message: Outgoing, *, idempotency_key: str) -> Receipt:
        post = message.post
        if post.thread:
            raise ChannelError(
                "Facebook Page posts have no thread replies; the rendition carries "
                f"{len(post.thread)}",
                permanent=True,
            )
        if message.image_bytes and post.image is not None and post.card is None:
            created = self._photo_post(message)
            post_id = str(created.get("post_id") or created["id"])
        else:
            created = self._link_post(post)
            post_id = str(created["id"])
        return Receipt(remote_id=post_id, url=self._post_url(post_id))

    def lookup(self, message: Outgoing, *, idempotency_key: str) -> Receipt | None:
        item = meta.find_since(
            self._get,
            f"/{self.settings.page_id}/posts",
            fields="id,message,created_time,permalink_url",
            since=posted_since(message),
            match=lambda item: _is_post(item, message.post),
            items="the Page's posts",
            too_many="too many Page posts",
        )
        if item is None:
            return None
        post_id = str(item["id"])
        return Receipt(post_id, item.get("permalink_url") or self._post_url(post_id))

    def check(self) -> str:
        page = self._get(f"/{self.settings.page_id}", {"fields": "id,name"})
        return f"{page.get('name')} (Facebook Page {page.get('id')})"

    def token_expires_at(self) -> datetime | None:
        expires = self.settings.token_expires_at
        return aware(expires) if expires else None

    # -- posts ----------------------------------------------------------------------------

    def _link_post(self, post: PostRendition) -> dict[str, Any]:
        data = {"message": post.text}
        if post.link:
            data["link"] = post.link
        return self._post(f"/{self.settings.page_id}/feed", data=data)

    def _photo_post(self, message: Outgoing) -> dict[str, Any]:
        assert message.image_bytes is not None and message.post.image is not None
        mime = message.image_mime or "application/octet-stream"
        data = {"caption": message.post.text, "published": "true"}
        if message.post.image.alt:
            data["alt_text_custom"] = message.post.image.alt
        files = {"source": (f"image.{_EXTENSIONS.get(mime, 'bin')}", message.image_bytes, mime)}
        return self._post(f"/{self.settings.page_id}/photos", data=data, files=files)

    def _post_url(self, post_id: str) -> str:
        page, _, story = post_id.partition("_")
        return f"https://www.facebook.com/{page}/posts/{story or page}"

    # -- Graph calls ----------------------------------------------------------------------

    @property
    def _token(self) -> str:
        return self.settings.page_access_token.get_secret_value()

    def _post(self, path: str, *, data: dict[str, str], **kwargs: Any) -> dict[str, Any]:
        return meta.graph_call(
            self.http,
            "POST",
            self.base + path,
            data,
            platform="Facebook",
            token=self._token,
            after_send=True,
            **kwargs,
        )

    def _get(self, path: str, params: dict[str, str | int]) -> dict[str, Any]:
        return meta.graph_call(
            self.http, "GET", self.base + path, params, platform="Facebook", token=self._token
        )


def _same_text(a: str, b: str) -> bool:
    return _SPACE.sub(" ", a).strip() == _SPACE.sub(" ", b).strip()


def _is_post(item: dict[str, Any], post: PostRendition) -> bool:
    text = str(item.get("message") or "")
    if post.link and post.link in text:
        return True
    return _same_text(text, post.text)
