"""One HTTP call for adapters whose platforms take a secret in the URL or the form.

Transport failures become ``ChannelError`` with the same rules everywhere: a refused or
unresolvable connection never carried the request (retry); a timeout or reset after a call
that changes something may have landed (``ambiguous``); the session's private-address guard is
permanent. Every message has the given secrets blanked out, because requests puts the whole URL
(Telegram's bot token, Meta's ``access_token``) into its exception text.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import requests
from urllib3.exceptions import NameResolutionError, NewConnectionError

from distributor.channels.base import ChannelError
from distributor.http import BlockedAddress, caused_by

# Without a hint from the platform, wait about as long as a short outage lasts.
TRANSPORT_RETRY_AFTER = 30.0
REDACTED = "[redacted]"


def redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text


def call(
    http: requests.Session,
    method: str,
    url: str,
    *,
    target: str,
    after_send: bool = False,
    secrets: Iterable[str] = (),
    tls_failure_is_reset: bool = False,
    **kwargs: Any,
) -> requests.Response:
    """``http.request`` with transport failures translated; ``target`` names the platform in
    messages (never the URL, which may hold a secret).

    ``tls_failure_is_reset`` treats a TLS error like a dropped connection (it can come after
    the request went out) instead of like an unreachable host. The requests exception is
    chained only when no secret was given, since its text holds the URL.
    """
    hidden = list(secrets)
    try:
        return http.request(method, url, **kwargs)
    except requests.RequestException as exc:
        error = _translate(exc, target, hidden, after_send, tls_failure_is_reset)
        raise error from (None if hidden else exc)


def _translate(
    exc: requests.RequestException,
    target: str,
    hidden: list[str],
    after_send: bool,
    tls_failure_is_reset: bool,
) -> ChannelError:
    text = redact(str(exc), hidden)
    unreachable = isinstance(exc, requests.ConnectTimeout) or (
        isinstance(exc, requests.exceptions.SSLError) and not tls_failure_is_reset
    )
    if unreachable:
        return ChannelError(f"cannot reach {target}: {text}", retry_after=TRANSPORT_RETRY_AFTER)
    if isinstance(exc, requests.ConnectionError):
        if caused_by(exc, BlockedAddress):
            return ChannelError(text, permanent=True)
        never_sent = caused_by(exc, (NewConnectionError, NameResolutionError))
        return ChannelError(
            f"connection to {target} failed: {text}",
            retry_after=TRANSPORT_RETRY_AFTER,
            ambiguous=after_send and not never_sent,
        )
    if isinstance(exc, requests.Timeout):
        return ChannelError(
            f"no answer from {target}: {text}",
            retry_after=TRANSPORT_RETRY_AFTER,
            ambiguous=after_send,
        )
    return ChannelError(f"request to {target} failed: {text}", retry_after=TRANSPORT_RETRY_AFTER)


def json_object(
    response: requests.Response, *, platform: str, after_send: bool, retry_after: float = 60.0
) -> dict[str, Any]:
    """The body of a successful call, which must be a JSON object."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise ChannelError(
            f"{platform} HTTP {response.status_code} with a body that is not a JSON object",
            retry_after=retry_after,
            ambiguous=after_send,
        )
    return body
