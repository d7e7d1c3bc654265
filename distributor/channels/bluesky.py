"""Bluesky: one ``app.bsky.feed.post`` record per delivery, written to the account's PDS.

atproto has no idempotency header, so the record key is chosen here: a TID derived from the
delivery (``tid.tid_for``). A second createRecord under the same key fails, and ``lookup``
reads that exact key back after an ambiguous outcome.

A rendition's ``thread`` goes out as replies: each an ``app.bsky.feed.post`` whose ``reply``
names the first post as root and the previous part as parent (strong refs: uri and cid), with
its own link and tag facets, under its own record key (``record_key``: the delivery's TID
moved on by the part's number in microseconds, so the parts sort in order and a retry asks for
the same keys). Confirmed parts are kept in the channel state (``ThreadProgress``) and a retry
resumes after them. ``lookup`` reads every part's key back: a complete thread is the receipt
(the first post); a partial one is remembered and answered ``None`` ("not out yet"), so the
ledger sends again and only the missing parts are created. A reply the PDS refused for good
(400 InvalidRequest) leaves the row ``unknown`` with the reason, for a person.

The login (access and refresh JWTs) lives in the injected StateStore: createSession is
limited to a few dozen calls per account and day, so it is called only when there is no
session or the refresh token is no longer accepted.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import requests
from pydantic import BaseModel, SecretStr
from urllib3.exceptions import NewConnectionError

from distributor.channels.base import (
    AuthExpired,
    Channel,
    ChannelError,
    Outgoing,
    Receipt,
    StateStore,
)
from distributor.channels.progress import ThreadProgress, incomplete
from distributor.channels.tid import tid_for
from distributor.http import BlockedAddress, caused_by
from distributor.rendering.social import bluesky_facets

log = logging.getLogger(__name__)

POST_COLLECTION = "app.bsky.feed.post"
# The PDS answers an expired access token with 400 ExpiredToken and a garbled one with 400
# InvalidToken, not 401; all of these mean "log in again", not "the request was wrong".
_TOKEN_ERRORS = frozenset({"ExpiredToken", "InvalidToken", "AuthMissing", "AuthenticationRequired"})


def record_key(created_at: datetime, idempotency_key: str, index: int = 0) -> str:
    """The record key of part ``index`` (0 = the post itself) of a delivery's thread: the
    delivery's TID for the post, the same clock id ``index`` microseconds later for a reply."""
    return tid_for(created_at + timedelta(microseconds=index), idempotency_key)


class _XrpcResponse:
    """A finished XRPC call: status, parsed body and the error name atproto puts in it."""

    def __init__(self, response: requests.Response) -> None:
        self.status = response.status_code
        self.headers = response.headers
        try:
            body = response.json()
        except ValueError:
            body = None
        self.body: dict[str, Any] = body if isinstance(body, dict) else {}
        self.error: str = str(self.body.get("error") or "")
        self.message: str = str(self.body.get("message") or response.reason or "")

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def token_rejected(self) -> bool:
        return self.status == 401 or (self.status == 400 and self.error in _TOKEN_ERRORS)

    def describe(self) -> str:
        name = f" {self.error}" if self.error else ""
        return f"HTTP {self.status}{name}: {self.message}".rstrip(": ")


class Bluesky(Channel):
    """Posts to a Bluesky (atproto) account with an app password."""

    kind: ClassVar[str] = "bluesky"
    posts_threads: ClassVar[bool] = True

    class Config(BaseModel):
        service_url: str = "https://bsky.social"
        identifier: str
        app_password: SecretStr

    def __init__(self, config: BaseModel, http: requests.Session, state: StateStore) -> None:
        if not isinstance(config, Bluesky.Config):
            raise TypeError(f"Bluesky needs a Bluesky.Config, not {type(config).__name__}")
        super().__init__(config, http, state)
        self.settings = config
        self.progress = ThreadProgress(state)

    # -- the contract ---------------------------------------------------------------------

    def publish(self, message: Outgoing, *, idempotency_key: str) -> Receipt:
        parts = [message.post.text, *message.post.thread]
        done = self.progress.publish(
            idempotency_key,
            parts,
            lambda index, done: self._create(message, parts[index], index, done, idempotency_key),
            live=lambda first: f"post {first['uri']}",
        )
        return self._receipt(done[0]["uri"], record_key(message.created_at, idempotency_key))

    def _create(
        self,
        message: Outgoing,
        text: str,
        index: int,
        done: list[dict[str, Any]],
        idempotency_key: str,
    ) -> dict[str, Any]:
        """Create part ``index``; its strong ref (uri, cid)."""
        session = self._session()
        record: dict[str, Any] = {
            "$type": POST_COLLECTION,
            "text": text,
            "createdAt": _rfc3339(datetime.now(UTC)),
        }
        facets = message.post.facets if index == 0 else bluesky_facets(text)
        if facets:
            record["facets"] = facets
        if index == 0:
            embed = self._embed(message)
            if embed is not None:
                record["embed"] = embed
        else:
            record["reply"] = {"root": _ref(done[0]), "parent": _ref(done[-1])}
        body = {
            "repo": session["did"],
            "collection": POST_COLLECTION,
            "rkey": record_key(message.created_at, idempotency_key, index),
            "record": record,
        }
        result = self._call("POST", "com.atproto.repo.createRecord", json=body, write=True)
        self._raise_for(result, write=True)
        return _strong_ref(result, write=True)

    def lookup(self, message: Outgoing, *, idempotency_key: str) -> Receipt | None:
        """The first post once every part's record exists. ``None`` when the first post surely
        does not, and also when replies are missing: the ledger then sends again, and the
        retry resumes after the parts found here (now remembered), never repeating one."""
        post = message.post
        parts = [post.text, *post.thread]
        found: list[dict[str, Any]] = []
        for index in range(len(parts)):
            ref = self._read(record_key(message.created_at, idempotency_key, index))
            if ref is None:
                break
            found.append(ref)
        if not found:
            return None
        refused = self.progress.refusal(idempotency_key)
        if post.thread:
            self.progress.save(idempotency_key, found, refused=refused)
        if len(found) == len(parts):
            return self._receipt(found[0]["uri"], record_key(message.created_at, idempotency_key))
        if refused:
            raise incomplete(f"post {found[0]['uri']}", len(found), len(parts), refused)
        return None

    def _read(self, rkey: str) -> dict[str, Any] | None:
        session = self._session()
        params = {"repo": session["did"], "collection": POST_COLLECTION, "rkey": rkey}
        result = self._call("GET", "com.atproto.repo.getRecord", params=params)
        if result.status == 400 and result.error == "RecordNotFound":
            return None
        self._raise_for(result)
        return _strong_ref(result)

    def check(self) -> str:
        self._session()
        result = self._call("GET", "com.atproto.server.getSession")
        self._raise_for(result)
        return f"@{result.body.get('handle')} ({result.body.get('did')})"

    # -- posts ----------------------------------------------------------------------------

    def _embed(self, message: Outgoing) -> dict[str, Any] | None:
        post = message.post
        if post.card is not None:
            external: dict[str, Any] = {
                "uri": post.card.uri,
                "title": post.card.title,
                "description": post.card.description,
            }
            if post.card.image_url and message.image_bytes:
                external["thumb"] = self._upload_blob(message.image_bytes, message.image_mime)
            return {"$type": "app.bsky.embed.external", "external": external}
        if post.image is not None and message.image_bytes:
            blob = self._upload_blob(message.image_bytes, message.image_mime)
            return {
                "$type": "app.bsky.embed.images",
                "images": [{"image": blob, "alt": post.image.alt or ""}],
            }
        return None

    def _upload_blob(self, data: bytes, mime: str | None) -> dict[str, Any]:
        # Unreferenced blobs are garbage-collected within minutes: upload right before the record.
        result = self._call(
            "POST",
            "com.atproto.repo.uploadBlob",
            data=data,
            headers={"Content-Type": mime or "application/octet-stream"},
        )
        self._raise_for(result)
        blob = result.body.get("blob")
        if not isinstance(blob, dict):
            raise ChannelError("Bluesky uploadBlob answered without a blob")
        return blob

    def _receipt(self, uri: str, rkey: str) -> Receipt:
        handle = self.state.load().get("handle") or self.settings.identifier
        return Receipt(remote_id=uri, url=f"https://bsky.app/profile/{handle}/post/{rkey}")

    # -- session --------------------------------------------------------------------------

    def _session(self) -> dict[str, Any]:
        state = self.state.load()
        same_account = (
            state.get("service_url") == self.settings.service_url
            and state.get("identifier") == self.settings.identifier
        )
        if same_account and state.get("accessJwt") and state.get("did"):
            return state
        return self._create_session()

    def _create_session(self) -> dict[str, Any]:
        body = {
            "identifier": self.settings.identifier,
            "password": self.settings.app_password.get_secret_value(),
        }
        result = self._send("POST", "com.atproto.server.createSession", json=body)
        if result.token_rejected or result.error in {"AccountTakedown", "AccountDeactivated"}:
            raise AuthExpired(
                f"Bluesky refused the login for {self.settings.identifier}: {result.describe()}"
            )
        self._raise_for(result)
        return self._store_session(result.body)

    def _refresh_session(self) -> dict[str, Any]:
        refresh = self.state.load().get("refreshJwt")
        if not refresh:
            return self._create_session()
        result = self._send(
            "POST",
            "com.atproto.server.refreshSession",
            headers={"Authorization": f"Bearer {refresh}"},
        )
        if result.token_rejected:
            log.info(
                "bluesky refresh token for %s rejected; logging in again", self.settings.identifier
            )
            return self._create_session()
        self._raise_for(result)
        return self._store_session(result.body)

    def _store_session(self, body: dict[str, Any]) -> dict[str, Any]:
        missing = [k for k in ("accessJwt", "refreshJwt", "did") if not body.get(k)]
        if missing:
            raise ChannelError(f"Bluesky session answer lacks {', '.join(missing)}")
        # Merged into what is there: the state also holds the threads' progress.
        state = {
            **self.state.load(),
            "service_url": self.settings.service_url,
            "identifier": self.settings.identifier,
            "did": body["did"],
            "handle": body.get("handle") or self.settings.identifier,
            "accessJwt": body["accessJwt"],
            "refreshJwt": body["refreshJwt"],
        }
        self.state.save(state)
        return state

    # -- transport ------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        nsid: str,
        *,
        write: bool = False,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> _XrpcResponse:
        """An authenticated call; a rejected access token is refreshed once and the call repeated.

        Repeating is safe even for writes: a request refused at authentication had no effect."""
        for attempt in range(2):
            token = self._session()["accessJwt"]
            auth = {**(headers or {}), "Authorization": f"Bearer {token}"}
            result = self._send(method, nsid, write=write, headers=auth, **kwargs)
            if not result.token_rejected:
                return result
            if attempt == 0:
                self._refresh_session()
        raise AuthExpired(f"Bluesky rejected a fresh session for {nsid}: {result.describe()}")

    def _send(self, method: str, nsid: str, *, write: bool = False, **kwargs: Any) -> _XrpcResponse:
        url = f"{self.settings.service_url.rstrip('/')}/xrpc/{nsid}"
        try:
            response = self.http.request(method, url, **kwargs)
        except requests.RequestException as exc:
            raise _transport_error(nsid, exc, write=write) from exc
        return _XrpcResponse(response)

    def _raise_for(self, result: _XrpcResponse, *, write: bool = False) -> None:
        if result.ok:
            return
        detail = f"Bluesky: {result.describe()}"
        if result.status == 429:
            raise ChannelError(detail, retry_after=_retry_after(result.headers), rate_limited=True)
        if result.status >= 500 or (write and result.status == 409):
            # A duplicate record key gets a 500 from today's PDS (maybe a 409 tomorrow): after
            # either, the post may exist, and only lookup can tell.
            raise ChannelError(detail, ambiguous=write)
        if result.token_rejected:
            raise AuthExpired(detail)
        if result.status == 408:
            raise ChannelError(detail)
        raise ChannelError(detail, permanent=True)


def _ref(part: dict[str, Any]) -> dict[str, str]:
    return {"uri": str(part["uri"]), "cid": str(part["cid"])}


def _strong_ref(result: _XrpcResponse, *, write: bool = False) -> dict[str, Any]:
    uri, cid = result.body.get("uri"), result.body.get("cid")
    if not isinstance(uri, str) or not isinstance(cid, str):
        # A success without the record's ref: it may exist, but a reply cannot point at it.
        raise ChannelError(
            f"Bluesky answered HTTP {result.status} without uri and cid", ambiguous=write
        )
    return {"uri": uri, "cid": cid}


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _retry_after(headers: Any) -> float | None:
    reset = headers.get("RateLimit-Reset")
    if reset is not None:
        try:
            return max(0.0, float(reset) - time.time())
        except ValueError:
            pass
    retry = headers.get("Retry-After")
    if retry is not None:
        try:
            return max(0.0, float(retry))
        except ValueError:
            return None
    return None


def _transport_error(nsid: str, exc: requests.RequestException, *, write: bool) -> ChannelError:
    if caused_by(exc, BlockedAddress):
        return ChannelError(f"Bluesky {nsid}: {exc}", permanent=True)
    never_sent = isinstance(exc, requests.ConnectTimeout) or caused_by(exc, NewConnectionError)
    return ChannelError(
        f"Bluesky {nsid}: {type(exc).__name__}: {exc}", ambiguous=write and not never_sent
    )
