"""Threads (Meta): a post is a container that is created, becomes ready, then is published.

Creating a container has no visible effect (an unpublished one expires after 24 h), so only
``threads_publish`` is a call whose failure can be ambiguous. Every part Threads confirmed
is remembered in the channel state under the delivery's key, so a retry resumes a thread
after it rather than posting the first part again. Readiness is polled with
``GET /{container}?fields=status,error_message`` for a bounded time; text containers are
usually ``FINISHED`` at once, image containers once Threads has fetched the image from its
public URL (Threads cannot take uploaded bytes). A rendition's ``thread`` follow-ups are
published as a chain of replies, each to the previous part.

More than five links fail at container creation (``THREADS_API__LINK_LIMIT_EXCEEDED``); the
adapter counts first and refuses with a permanent error before any call.

There is no idempotency key: after an ambiguous outcome ``lookup`` reads the profile's posts
since the delivery was created and matches the article link (or the whole text).

Long-lived tokens last 60 days and can be refreshed (``th_refresh_token``) while unexpired;
an expired token cannot be refreshed and the channel needs reconnecting.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import requests
from pydantic import BaseModel, Field, SecretStr

from distributor.channels import meta
from distributor.channels.base import (
    AuthExpired,
    Channel,
    ChannelError,
    Outgoing,
    RateLimit,
    Receipt,
    StateStore,
    TokenGrant,
)
from distributor.channels.lookup import aware, complete_thread, posted_since
from distributor.channels.progress import ThreadProgress
from distributor.channels.transport import call, json_object
from distributor.domain import PostRendition
from distributor.rendering.text import find_urls

MAX_LINKS = 5
# Deliveries whose published parts are remembered, so a retry resumes a thread after the
# last part Threads confirmed instead of posting it again from the top.
_SPACE = re.compile(r"\s+")
# Threads also links bare "www." hosts; find_urls only sees http(s) URLs.
_WWW = re.compile(r"(?<![\w/.@-])www\.[^\s/]+\.[^\s]*", re.IGNORECASE)


def count_links(text: str) -> int:
    """Unique URLs in ``text`` as Threads counts them for its five-link limit."""
    urls = {text[start:end].rstrip("/") for start, end in find_urls(text)}
    bare = {m.group().rstrip(".,;:!?)/") for m in _WWW.finditer(text)}
    bare = {u for u in bare if not any(u in url for url in urls)}
    return len(urls | bare)


class Threads(Channel):
    """Posts to one Threads profile (threads_basic + threads_content_publish)."""

    kind: ClassVar[str] = "threads"
    # 250 API-published posts per profile per rolling 24 h (each reply counts).
    rate_limit: ClassVar[RateLimit | None] = RateLimit(requests=250, per_seconds=86400)
    posts_threads: ClassVar[bool] = True
    # Meta suggests polling a container once a minute for up to five minutes, for video; text
    # and images are ready far sooner, and a delivery should not hold a worker that long.
    container_poll_interval: ClassVar[float] = 2.0
    container_wait_seconds: ClassVar[float] = 60.0

    class Config(BaseModel):
        user_id: str = Field(pattern=r"^[0-9]+$")
        access_token: SecretStr
        api_base: str = "https://graph.threads.net"
        api_version: str = "v1.0"
        # Set when the token is connected and after every refresh (from ``expires_in``).
        token_expires_at: datetime | None = None

    def __init__(self, config: BaseModel, http: requests.Session, state: StateStore) -> None:
        if not isinstance(config, Threads.Config):
            raise TypeError(f"Threads needs a Threads.Config, not {type(config).__name__}")
        super().__init__(config, http, state)
        self.settings = config
        self.root = config.api_base.rstrip("/")
        self.base = f"{self.root}/{config.api_version.strip('/')}"

    # -- the contract ---------------------------------------------------------------------

    def publish(self, message: Outgoing, *, idempotency_key: str) -> Receipt:
        post = message.post
        parts = [post.text, *post.thread]
        for number, text in enumerate(parts, start=1):
            links = count_links(text)
            if links > MAX_LINKS:
                where = "the post" if number == 1 else f"reply {number - 1}"
                raise ChannelError(
                    f"Threads allows at most {MAX_LINKS} links in a post; {where} has {links}",
                    permanent=True,
                )
        done = self._progress(idempotency_key)
        for index in range(len(done), len(parts)):
            try:
                published = self._publish_one(
                    parts[index],
                    image=_image_fields(post) if index == 0 else None,
                    reply_to=done[-1] if done else None,
                )
            except ChannelError as error:
                if done and error.permanent and not error.ambiguous:
                    # The first post is live, so the delivery cannot simply fail: the ledger
                    # looks it up (and last_error shows the reply that is missing).
                    raise ChannelError(
                        f"post {done[0]} is published but reply {index} of {len(post.thread)} "
                        f"failed: {error.message}",
                        permanent=True,
                        ambiguous=True,
                    ) from None
                raise
            done.append(published)
            self._remember(idempotency_key, done)
        return Receipt(remote_id=done[0], url=self._permalink(done[0]))

    def lookup(self, message: Outgoing, *, idempotency_key: str) -> Receipt | None:
        done = self._progress(idempotency_key)
        if done:
            first = Receipt(remote_id=done[0], url=self._permalink(done[0]))
            return complete_thread(first, len(done), message.post)
        item = meta.find_since(
            self._get,
            f"/{self.settings.user_id}/threads",
            fields="id,text,timestamp,permalink,link_attachment_url",
            since=posted_since(message),
            match=lambda item: _is_post(item, message.post),
            items="the profile's threads",
            too_many="too many posts",
        )
        return None if item is None else Receipt(str(item["id"]), item.get("permalink"))

    def check(self) -> str:
        me = self._get("/me", {"fields": "id,username"})
        return f"@{me.get('username')} on Threads ({me.get('id')})"

    def refresh(self) -> TokenGrant:
        response = call(
            self.http,
            "GET",
            f"{self.root}/refresh_access_token",
            target="Threads",
            secrets=[self._token],
            params={"grant_type": "th_refresh_token", "access_token": self._token},
        )
        if not response.ok:
            error = meta.GraphError.from_response(response)
            throttled = error.code in meta.THROTTLING or response.status_code == 429
            if response.status_code < 500 and not throttled:
                # Expired, revoked, or not refreshable (yet): only a new login helps.
                raise AuthExpired(f"the Threads token cannot be refreshed: {error.message}")
            meta.raise_for(response, platform="Threads", after_send=False)
        body = json_object(response, platform="Threads", after_send=False)
        token, lifetime = body.get("access_token"), body.get("expires_in")
        if not isinstance(token, str) or not token:
            raise AuthExpired("Threads answered the refresh without an access token")
        expires_at = None
        if isinstance(lifetime, int | float) and lifetime > 0:
            expires_at = datetime.now(UTC) + timedelta(seconds=float(lifetime))
        return TokenGrant(secrets={"access_token": token}, expires_at=expires_at)

    def token_expires_at(self) -> datetime | None:
        expires = self.settings.token_expires_at
        return aware(expires) if expires else None

    # -- containers -----------------------------------------------------------------------

    def _publish_one(
        self, text: str, *, image: dict[str, str] | None = None, reply_to: str | None = None
    ) -> str:
        fields = {"media_type": "TEXT", "text": text}
        if image:
            fields.update(image)
        if reply_to:
            fields["reply_to_id"] = reply_to
        container = str(self._post(f"/{self.settings.user_id}/threads", fields)["id"])
        self._wait_until_ready(container)
        published = self._post(
            f"/{self.settings.user_id}/threads_publish", {"creation_id": container}, send=True
        )
        return str(published["id"])

    def _wait_until_ready(self, container: str) -> None:
        deadline = time.monotonic() + self.container_wait_seconds
        while True:
            state = self._get(f"/{container}", {"fields": "status,error_message"})
            status = str(state.get("status") or "")
            if status == "FINISHED":
                return
            if status == "ERROR":
                detail = state.get("error_message") or "no reason given"
                raise ChannelError(f"Threads could not prepare the post: {detail}", permanent=True)
            if status == "EXPIRED":
                raise ChannelError(
                    f"Threads container {container} expired before it was published",
                    retry_after=meta.SERVER_RETRY_AFTER,
                )
            if status == "PUBLISHED":
                raise ChannelError(
                    f"Threads container {container} is already published",
                    permanent=True,
                    ambiguous=True,
                )
            if time.monotonic() >= deadline:
                raise ChannelError(
                    f"Threads container {container} still {status or 'not ready'} after "
                    f"{self.container_wait_seconds:.0f} s; nothing was published",
                    retry_after=meta.SERVER_RETRY_AFTER,
                )
            time.sleep(self.container_poll_interval)

    def _progress(self, key: str) -> list[str]:
        """Ids of the parts of this delivery the platform confirmed, in thread order."""
        return ThreadProgress(self.state).ids(key)

    def _remember(self, key: str, ids: list[str]) -> None:
        ThreadProgress(self.state).save_ids(key, ids)

    def _permalink(self, media_id: str) -> str | None:
        # The post is live: a failure to read its link must not fail the delivery.
        try:
            return self._get(f"/{media_id}", {"fields": "permalink"}).get("permalink")
        except ChannelError:
            return None

    # -- Graph calls ----------------------------------------------------------------------

    @property
    def _token(self) -> str:
        return self.settings.access_token.get_secret_value()

    def _post(self, path: str, data: dict[str, str], *, send: bool = False) -> dict[str, Any]:
        return meta.graph_call(
            self.http,
            "POST",
            self.base + path,
            data,
            platform="Threads",
            token=self._token,
            after_send=send,
        )

    def _get(self, path: str, params: dict[str, str | int]) -> dict[str, Any]:
        return meta.graph_call(
            self.http, "GET", self.base + path, params, platform="Threads", token=self._token
        )


def _image_fields(post: PostRendition) -> dict[str, str] | None:
    """An image post when the rendition has a public image URL (Threads fetches it itself)."""
    image = post.image
    if image is None or not image.url:
        return None
    fields = {"media_type": "IMAGE", "image_url": image.url}
    if image.alt:
        fields["alt_text"] = image.alt
    return fields


def _is_post(item: dict[str, Any], post: PostRendition) -> bool:
    text = str(item.get("text") or "")
    if post.link and (post.link in text or item.get("link_attachment_url") == post.link):
        return True
    return _SPACE.sub(" ", text).strip() == _SPACE.sub(" ", post.text).strip()
