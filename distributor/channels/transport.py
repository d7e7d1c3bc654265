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
    **kwargs: Any,
) -> requests.Response:
    """``http.request`` with transport failures translated; ``target`` names the platform in
    messages (never the URL, which may hold a secret)."""
    hidden = list(secrets)
    try:
        return http.request(method, url, **kwargs)
    except (requests.ConnectTimeout, requests.exceptions.SSLError) as exc:
        raise ChannelError(
            f"cannot reach {target}: {redact(str(exc), hidden)}",
            retry_after=TRANSPORT_RETRY_AFTER,
        ) from None
    except requests.ConnectionError as exc:
        if caused_by(exc, BlockedAddress):
            raise ChannelError(redact(str(exc), hidden), permanent=True) from None
        never_sent = caused_by(exc, (NewConnectionError, NameResolutionError))
        raise ChannelError(
            f"connection to {target} failed: {redact(str(exc), hidden)}",
            retry_after=TRANSPORT_RETRY_AFTER,
            ambiguous=after_send and not never_sent,
        ) from None
    except requests.Timeout as exc:
        raise ChannelError(
            f"no answer from {target}: {redact(str(exc), hidden)}",
            retry_after=TRANSPORT_RETRY_AFTER,
            ambiguous=after_send,
        ) from None
    except requests.RequestException as exc:
        raise ChannelError(
            f"request to {target} failed: {redact(str(exc), hidden)}",
            retry_after=TRANSPORT_RETRY_AFTER,
        ) from None
