"""LinkedIn (Posts API): one post per delivery, as an organisation page, with the article
card built by us (platform-apis.md §4).

- Every call carries ``LinkedIn-Version`` (YYYYMM, configurable: old versions are sunset) and
  ``X-Restli-Protocol-Version: 2.0.0``. The post's URN comes back in ``x-restli-id``.
- ``commentary`` is "little text format": the rendition's text is escaped on the way out with
  ``linkedin_commentary`` (an unescaped reserved character silently truncates the post). The
  article title and description are plain strings and stay unescaped.
- LinkedIn does not scrape links for the Posts API: ``content.article`` gets the source,
  title, description and a thumbnail uploaded through the Images API.
- No idempotency: re-posting the same content is ``422 DUPLICATE_POST`` naming the existing
  post's URN, which is then the receipt. An ambiguous create is looked up among the page's
  recent posts by the article URL.
- Rate limits are daily quotas reset at midnight UTC, with no headers: a 429 waits until then
  (or for ``Retry-After`` if one is ever sent).
- Access tokens live 60 days; programmatic refresh exists only for approved partners, so
  ``refresh`` works when a refresh token was stored and otherwise asks for a reconnect.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import quote

import requests
from pydantic import BaseModel, SecretStr, field_validator

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
from distributor.channels.lookup import posted_since
from distributor.channels.oauth import grant_from
from distributor.channels.transport import call
from distributor.domain import PostRendition
from distributor.rendering.escaping import linkedin_commentary

_DEFAULT_RETRY_AFTER = 60.0
_AUTHOR = re.compile(r"^urn:li:(organization|person):\d+$")
_VERSION = re.compile(r"^20\d{4}$")
_DUPLICATE_OF = re.compile(r"urn:li:(?:share|ugcPost):\d+")
_LOOKUP_PAGE = 50


def seconds_until_midnight_utc(now: datetime | None = None) -> float:
    """LinkedIn's daily quotas reset at 00:00 UTC."""
    current = now or datetime.now(UTC)
    midnight = (current + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return (midnight - current).total_seconds() + 1.0


def _body(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _problem(response: requests.Response) -> str:
    body = _body(response)
    message = body.get("message") or body.get("error_description") or body.get("code")
    return f"LinkedIn answered HTTP {response.status_code}: {message or response.reason or ''}"


def _duplicate_of(response: requests.Response) -> str | None:
    """The URN of the existing post when LinkedIn refuses a duplicate (422 DUPLICATE_POST)."""
    if response.status_code != 422:
        return None
    body = _body(response)
    errors = (body.get("errorDetails") or {}).get("inputErrors") or []
    codes = {str(e.get("code")) for e in errors if isinstance(e, dict)}
    if "DUPLICATE_POST" not in codes and "duplicate" not in str(body.get("message")).lower():
        return None
    found = _DUPLICATE_OF.search(str(body.get("message") or ""))
    return found.group(0) if found else None


def post_url(urn: str) -> str:
    return f"https://www.linkedin.com/feed/update/{urn}/"


class LinkedIn(Channel):
    """Posts as an organisation page (scope w_organization_social, the member an administrator
    or content admin of the page) or as a member (w_member_social)."""

    kind: ClassVar[str] = "linkedin"
    # Daily quotas are unpublished; ~150 posts a day per member is the figure third parties
    # cite. Spread over the day so a burst cannot use the whole quota at once.
    rate_limit: ClassVar[RateLimit | None] = RateLimit(requests=150, per_seconds=24 * 3600)
    token_lifetime: ClassVar[timedelta] = timedelta(days=60)

    class Config(BaseModel):
        access_token: SecretStr
        author: str  # urn:li:organization:<id> (or urn:li:person:<id>)
        version: str = "202511"
        token_expires_at: datetime | None = None
        # Programmatic refresh (approved partners only): all three, or none.
        refresh_token: SecretStr | None = None
        client_id: str = ""
        client_secret: SecretStr | None = None
        api_base: str = "https://api.linkedin.com"
        oauth_base: str = "https://www.linkedin.com"

        @field_validator("author")
        @classmethod
        def _author_urn(cls, value: str) -> str:
            if not _AUTHOR.match(value):
                raise ValueError(
                    "author must be an organisation or member URN such as urn:li:organization:123"
                )
            return value

        @field_validator("version")
        @classmethod
        def _yyyymm(cls, value: str) -> str:
            if not _VERSION.match(value):
                raise ValueError("version must be a LinkedIn API version as YYYYMM, e.g. 202511")
            return value

    def __init__(self, config: BaseModel, http: requests.Session, state: StateStore) -> None:
        if not isinstance(config, LinkedIn.Config):
            raise TypeError(f"LinkedIn needs a LinkedIn.Config, not {type(config).__name__}")
        super().__init__(config, http, state)
        self.settings: LinkedIn.Config = config
        self.api = config.api_base.rstrip("/")

    # -- HTTP ---------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.settings.access_token.get_secret_value()}",
            "LinkedIn-Version": self.settings.version,
            "X-Restli-Protocol-Version": "2.0.0",
        }

    def _send(
        self, method: str, url: str, *, after_send: bool = False, **kw: Any
    ) -> requests.Response:
        return call(
            self.http,
            method,
            url,
            target="LinkedIn",
            after_send=after_send,
            tls_failure_is_reset=True,
            **kw,
        )

    def _raise_for(self, response: requests.Response, *, after_send: bool = False) -> None:
        status = response.status_code
        if 200 <= status < 300:
            return
        if status == 429:
            try:
                wait = float(response.headers["Retry-After"])
            except (KeyError, ValueError):
                wait = seconds_until_midnight_utc()
            raise ChannelError(_problem(response), retry_after=wait, rate_limited=True)
        if status == 401:
            raise AuthExpired(_problem(response))
        if status >= 500:
            raise ChannelError(
                _problem(response), retry_after=_DEFAULT_RETRY_AFTER, ambiguous=after_send
            )
        raise ChannelError(_problem(response), permanent=True)

    def _call(
        self, method: str, path: str, *, after_send: bool = False, **kw: Any
    ) -> requests.Response:
        headers = {**self._headers(), **kw.pop("headers", {})}
        response = self._send(method, self.api + path, after_send=after_send, headers=headers, **kw)
        if _duplicate_of(response) is None:
            self._raise_for(response, after_send=after_send)
        return response

    # -- the contract -------------------------------------------------------------------

    def publish(self, message: Outgoing, *, idempotency_key: str) -> Receipt:
        post = message.post
        body: dict[str, Any] = {
            "author": self.settings.author,
            "commentary": linkedin_commentary(post.text),
            "visibility": "PUBLIC",
            "distribution": {
                "feedDistribution": "MAIN_FEED",
                "targetEntities": [],
                "thirdPartyDistributionChannels": [],
            },
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": False,
        }
        article = self._article(message)
        if article is not None:
            body["content"] = {"article": article}
        response = self._call("POST", "/rest/posts", json=body, after_send=True)
        existing = _duplicate_of(response)
        if existing is not None:
            # Our earlier attempt (or an identical post): LinkedIn names it; it is the post.
            return Receipt(remote_id=existing, url=post_url(existing))
        urn = response.headers.get("x-restli-id") or response.headers.get("x-linkedin-id")
        if not urn:
            location = response.headers.get("Location", "")
            urn = location.rstrip("/").rsplit("/", 1)[-1] if location else ""
        if not urn.startswith("urn:li:"):
            raise ChannelError(
                "LinkedIn accepted the post but named no URN", ambiguous=True, retry_after=30
            )
        return Receipt(remote_id=urn, url=post_url(urn))

    def lookup(self, message: Outgoing, *, idempotency_key: str) -> Receipt | None:
        since_ms = posted_since(message).timestamp() * 1000
        start = 0
        for _ in range(5):
            response = self._call(
                "GET",
                f"/rest/posts?author={quote(self.settings.author, safe='')}&q=author"
                f"&count={_LOOKUP_PAGE}&start={start}&sortBy=CREATED",
                headers={"X-RestLi-Method": "FINDER"},
            )
            elements = _body(response).get("elements") or []
            for element in elements:
                if not isinstance(element, dict):
                    continue
                if float(element.get("createdAt") or 0) < since_ms:
                    return None  # newest first: everything further is older
                if _is_post(element, message.post):
                    urn = str(element["id"])
                    return Receipt(remote_id=urn, url=post_url(urn))
            if len(elements) < _LOOKUP_PAGE:
                return None
            start += _LOOKUP_PAGE
        raise ChannelError(
            "too many posts since the delivery was created to tell whether it landed",
            retry_after=_DEFAULT_RETRY_AFTER,
        )

    def refresh(self) -> TokenGrant:
        refresh_token, secret = self.settings.refresh_token, self.settings.client_secret
        if refresh_token is None or secret is None or not self.settings.client_id:
            raise AuthExpired(
                "LinkedIn token expired; reconnect the channel (no programmatic refresh token)"
            )
        form = {
            "grant_type": "refresh_token",
            "refresh_token": refresh_token.get_secret_value(),
            "client_id": self.settings.client_id,
            "client_secret": secret.get_secret_value(),
        }
        url = self.settings.oauth_base.rstrip("/") + "/oauth/v2/accessToken"
        response = self._send("POST", url, data=form)
        if response.status_code in (400, 401):
            raise AuthExpired(f"LinkedIn refused the token refresh: {_problem(response)}")
        self._raise_for(response)
        return grant_from(
            _body(response), platform="LinkedIn", default_lifetime=self.token_lifetime
        )

    def token_expires_at(self) -> datetime | None:
        return self.settings.token_expires_at

    # -- helpers ------------------------------------------------------------------------

    def _article(self, message: Outgoing) -> dict[str, Any] | None:
        card = message.post.card
        if card is None:
            return None
        article: dict[str, Any] = {"source": card.uri, "title": card.title}
        if card.description:
            article["description"] = card.description
        if message.image_bytes:
            article["thumbnail"] = self._upload_image(message)
        return article

    def _upload_image(self, message: Outgoing) -> str:
        assert message.image_bytes is not None
        response = self._call(
            "POST",
            "/rest/images?action=initializeUpload",
            json={"initializeUploadRequest": {"owner": self.settings.author}},
        )
        value = _body(response).get("value") or {}
        upload_url, image = value.get("uploadUrl"), value.get("image")
        if not isinstance(upload_url, str) or not isinstance(image, str):
            raise ChannelError(
                "LinkedIn's image upload answer lacks uploadUrl or image", retry_after=30
            )
        put = self._send(
            "PUT",
            upload_url,
            data=message.image_bytes,
            headers={
                "Authorization": self._headers()["Authorization"],
                "Content-Type": message.image_mime or "application/octet-stream",
            },
        )
        self._raise_for(put)
        return image


def _is_post(element: dict[str, Any], post: PostRendition) -> bool:
    source = ((element.get("content") or {}).get("article") or {}).get("source")
    link = post.card.uri if post.card else post.link
    commentary = str(element.get("commentary") or "")
    if link and (source == link or link in commentary or linkedin_commentary(link) in commentary):
        return True
    return commentary == linkedin_commentary(post.text)
