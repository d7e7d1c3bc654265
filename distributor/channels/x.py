"""X (API v2): one post per delivery, its thread as replies, over an OAuth 2.0 user token.

X has no idempotency (platform-apis.md §3): posting the same text twice is refused with
``403 … duplicate content`` and the existing id is not returned. So:

- every post of a delivery that X confirmed is remembered in the channel state under the
  delivery's key, and a retry resumes after it (a thread never restarts from the top);
- a create call that may have landed (timeout, 5xx, connection reset after sending) is
  ``ambiguous``, and ``lookup`` then reads the account's recent posts for the article URL
  (X shows it as t.co in the text but keeps it in ``entities.urls[].expanded_url``) or, for
  a post without a link, the exact text;
- a duplicate-content 403 runs that lookup at once: our own earlier post is the receipt; a
  duplicate of something older is a permanent failure a person looks at.

Rate limits: ``x-rate-limit-reset`` (and the 24 h ``x-*-limit-24hour-reset``) are epoch
seconds; X sends no ``Retry-After``. Access tokens live two hours; ``refresh`` trades the
refresh token (single use: the new one in the answer replaces it) at ``/2/oauth2/token``.
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime
from typing import Any, ClassVar

import requests
from pydantic import BaseModel, SecretStr

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
from distributor.channels.lookup import complete_thread, posted_since
from distributor.channels.oauth import grant_from
from distributor.channels.progress import ThreadProgress
from distributor.channels.transport import call
from distributor.domain import PostRendition

_DEFAULT_RETRY_AFTER = 60.0
# Reset epochs are whole seconds of X's clock: one more second so we never come early.
_RESET_MARGIN = 1.0
_DUPLICATE = "duplicate content"
_ALT_TEXT_MAX = 1000
_RESET_HEADERS = (
    ("x-rate-limit-remaining", "x-rate-limit-reset"),
    ("x-user-limit-24hour-remaining", "x-user-limit-24hour-reset"),
    ("x-app-limit-24hour-remaining", "x-app-limit-24hour-reset"),
)
_CATEGORIES = {"image/gif": "tweet_gif"}


def retry_after_from(headers: Any, *, now: datetime | None = None) -> float:
    """Seconds until X lets the account post again: the 15-minute window's reset, or a 24-hour
    window's when that one is used up (whichever is later)."""
    current = (now or datetime.now(UTC)).timestamp()
    waits: list[float] = []
    for remaining, reset in _RESET_HEADERS:
        if reset != "x-rate-limit-reset" and headers.get(remaining) != "0":
            continue  # a 24-hour window with room left is not why we were refused
        try:
            waits.append(float(headers[reset]) - current + _RESET_MARGIN)
        except (KeyError, TypeError, ValueError):
            continue
    later = [w for w in waits if w > 0]
    return max(later) if later else _DEFAULT_RETRY_AFTER


def _problem(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        detail = body.get("detail") or body.get("title") or body.get("error_description")
        errors = body.get("errors")
        if not detail and isinstance(errors, list) and errors and isinstance(errors[0], dict):
            detail = errors[0].get("message") or errors[0].get("detail")
        if detail:
            return f"X answered HTTP {response.status_code}: {detail}"
    return f"X answered HTTP {response.status_code} {response.reason or ''}".rstrip()


def _is_duplicate(response: requests.Response) -> bool:
    return response.status_code == 403 and _DUPLICATE in _problem(response).lower()


def _normal(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).split())


class X(Channel):
    """Posts to one X account with an OAuth 2.0 user token (scopes tweet.write tweet.read
    users.read media.write offline.access)."""

    kind: ClassVar[str] = "x"
    # POST /2/tweets: 100 per 15 minutes per user (the headers are the final word).
    rate_limit: ClassVar[RateLimit | None] = RateLimit(requests=100, per_seconds=15 * 60)
    posts_threads: ClassVar[bool] = True

    class Config(BaseModel):
        access_token: SecretStr
        refresh_token: SecretStr | None = None
        client_id: str = ""
        # Confidential clients authenticate the refresh with HTTP Basic; public ones do not.
        client_secret: SecretStr | None = None
        token_expires_at: datetime | None = None
        # The account's handle and numeric id: post URLs and lookups (asked of X if empty).
        username: str = ""
        user_id: str = ""
        api_base: str = "https://api.x.com"

    def __init__(self, config: BaseModel, http: requests.Session, state: StateStore) -> None:
        if not isinstance(config, X.Config):
            raise TypeError(f"X needs an X.Config, not {type(config).__name__}")
        super().__init__(config, http, state)
        self.settings: X.Config = config
        self.api = config.api_base.rstrip("/")

    # -- HTTP ---------------------------------------------------------------------------

    def _call(
        self, method: str, path: str, *, after_send: bool = False, bearer: bool = True, **kw: Any
    ) -> requests.Response:
        """One request; non-2xx answers become ChannelError. ``after_send`` marks a call whose
        effect may have happened even without an answer (creating a post)."""
        headers = dict(kw.pop("headers", {}))
        if bearer:
            headers["Authorization"] = f"Bearer {self.settings.access_token.get_secret_value()}"
        response = call(
            self.http,
            method,
            self.api + path,
            target="X",
            after_send=after_send,
            tls_failure_is_reset=True,
            headers=headers,
            **kw,
        )
        if 200 <= response.status_code < 300:
            return response
        status = response.status_code
        if status == 429:
            raise ChannelError(
                _problem(response),
                retry_after=retry_after_from(response.headers),
                rate_limited=True,
            )
        if status == 401:
            raise AuthExpired(_problem(response))
        if status >= 500:
            # A gateway error after the request went out may hide a created post.
            raise ChannelError(
                _problem(response), retry_after=_DEFAULT_RETRY_AFTER, ambiguous=after_send
            )
        raise ChannelError(_problem(response), permanent=True)

    @staticmethod
    def _data(response: requests.Response, *, after_send: bool = False) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            body = None
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            raise ChannelError(
                f"X answered HTTP {response.status_code} without a data object",
                retry_after=_DEFAULT_RETRY_AFTER,
                ambiguous=after_send,
            )
        return data

    # -- the contract -------------------------------------------------------------------

    def publish(self, message: Outgoing, *, idempotency_key: str) -> Receipt:
        post = message.post
        done = self._progress(idempotency_key)
        parts = [post.text, *post.thread]
        media_ids = [self._upload(message)] if message.image_bytes and not done else []
        for index in range(len(done), len(parts)):
            body: dict[str, Any] = {"text": parts[index]}
            if index == 0 and media_ids:
                body["media"] = {"media_ids": media_ids}
            if index > 0:
                body["reply"] = {"in_reply_to_tweet_id": done[-1]}
            try:
                response = self._call("POST", "/2/tweets", json=body, after_send=True)
            except ChannelError as error:
                if index == 0 and "duplicate" in error.message.lower():
                    return self._after_duplicate(message, idempotency_key, error)
                raise
            done.append(str(self._data(response, after_send=True)["id"]))
            self._remember(idempotency_key, done)
        return self._receipt(done[0])

    def lookup(self, message: Outgoing, *, idempotency_key: str) -> Receipt | None:
        done = self._progress(idempotency_key)
        if done:
            return complete_thread(self._receipt(done[0]), len(done), message.post)
        params: dict[str, str | int] = {
            "max_results": 100,
            "start_time": posted_since(message).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "tweet.fields": "created_at,entities",
            "exclude": "replies,retweets",
        }
        for _ in range(5):
            response = self._call("GET", f"/2/users/{self._user_id()}/tweets", params=params)
            body = response.json()
            for tweet in body.get("data") or []:
                if _is_post(tweet, message.post):
                    return self._receipt(str(tweet["id"]))
            token = (body.get("meta") or {}).get("next_token")
            if not token:
                return None
            params["pagination_token"] = token
        raise ChannelError(
            "too many posts since the delivery was created to tell whether it landed",
            retry_after=_DEFAULT_RETRY_AFTER,
        )

    def refresh(self) -> TokenGrant:
        refresh_token = self.settings.refresh_token
        if refresh_token is None or not self.settings.client_id:
            raise AuthExpired("X token expired and no refresh token (offline.access) is stored")
        form = {
            "grant_type": "refresh_token",
            "refresh_token": refresh_token.get_secret_value(),
            "client_id": self.settings.client_id,
        }
        secret = self.settings.client_secret
        # Confidential clients: HTTP Basic with the client secret; public clients: none.
        basic: dict[str, Any] = (
            {"auth": (self.settings.client_id, secret.get_secret_value())} if secret else {}
        )
        try:
            response = self._call("POST", "/2/oauth2/token", data=form, bearer=False, **basic)
        except ChannelError as error:
            if error.permanent:  # 400 invalid_request / invalid_grant: the grant is gone
                raise AuthExpired(f"X refused the token refresh: {error.message}") from error
            raise
        return grant_from(response.json(), platform="X")

    def token_expires_at(self) -> datetime | None:
        return self.settings.token_expires_at

    def check(self) -> str:
        me = self._me()
        return f"@{me.get('username')} on X"

    # -- helpers ------------------------------------------------------------------------

    def _upload(self, message: Outgoing) -> str:
        assert message.image_bytes is not None
        mime = message.image_mime or "application/octet-stream"
        files = {"media": ("image", message.image_bytes, mime)}
        form = {"media_category": _CATEGORIES.get(mime, "tweet_image")}
        media_id = str(
            self._data(self._call("POST", "/2/media/upload", files=files, data=form))["id"]
        )
        image = message.post.image
        if image is not None and image.alt:
            alt_text = {"text": image.alt[:_ALT_TEXT_MAX]}
            metadata = {"id": media_id, "metadata": {"alt_text": alt_text}}
            self._call("POST", "/2/media/metadata", json=metadata)
        return media_id

    def _after_duplicate(self, message: Outgoing, key: str, error: ChannelError) -> Receipt:
        found = self.lookup(message, idempotency_key=key)
        if found is not None:
            self._remember(key, [found.remote_id])
            return found
        raise ChannelError(
            f"{error.message} (an older post has the same text; edit the post to send it)",
            permanent=True,
        )

    def _me(self) -> dict[str, Any]:
        return self._data(self._call("GET", "/2/users/me"))

    def _user_id(self) -> str:
        return self.settings.user_id or str(self._me()["id"])

    def _receipt(self, tweet_id: str) -> Receipt:
        handle = self.settings.username or "i/web"
        return Receipt(remote_id=tweet_id, url=f"https://x.com/{handle}/status/{tweet_id}")

    def _progress(self, key: str) -> list[str]:
        """Ids of the parts of this delivery the platform confirmed, in thread order."""
        return ThreadProgress(self.state).ids(key)

    def _remember(self, key: str, ids: list[str]) -> None:
        ThreadProgress(self.state).save_ids(key, ids)


def _is_post(tweet: dict[str, Any], post: PostRendition) -> bool:
    if post.link:
        urls = ((tweet.get("entities") or {}).get("urls")) or []
        expanded = {str(u.get("expanded_url") or "") for u in urls if isinstance(u, dict)}
        return post.link in expanded or post.link in str(tweet.get("text") or "")
    return _normal(str(tweet.get("text") or "")) == _normal(post.text)
