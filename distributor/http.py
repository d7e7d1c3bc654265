"""The one way out to the network: a requests session with timeouts, a user agent, a size cap
and a guard that refuses to connect to private, loopback or link-local addresses.

The guard checks the address the socket actually connected to (after DNS, on every redirect
hop), so a name that resolves to an internal address, or rebinds to one, is refused too.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import socket
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from distributor import __version__

USER_AGENT = f"distributor/{__version__} (+https://github.com/distributor/distributor)"


class BlockedAddress(requests.ConnectionError):
    """The destination resolved to an address the service must not reach."""


class ResponseTooLarge(requests.RequestException):
    pass


def is_public_address(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    shared = ipaddress.ip_network("100.64.0.0/10")
    return not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or (isinstance(ip, ipaddress.IPv4Address) and ip in shared)
    )


def _check_peer(sock: socket.socket, host: str) -> None:
    peer = sock.getpeername()[0]
    if not is_public_address(peer):
        sock.close()
        raise BlockedAddress(f"refusing to connect to {host} at private address {peer}")


class _GuardedHTTPConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _check_peer(sock, self.host)
        return sock


class _GuardedHTTPSConnection(HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _check_peer(sock, self.host)
        return sock


class _GuardedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


class _GuardedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _GuardedHTTPPool,
            "https": _GuardedHTTPSPool,
        }


class _TimeoutSession(requests.Session):
    def __init__(self, timeout: float) -> None:
        super().__init__()
        self._timeout = timeout

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", self._timeout)
        try:
            return super().request(method, url, *args, **kwargs)
        except requests.ConnectionError as error:
            # urllib3 wraps the guard's error in its own; let callers see it as it is.
            blocked = (
                caused_by(error, BlockedAddress) if not isinstance(error, BlockedAddress) else None
            )
            if blocked is not None:
                raise blocked from None
            raise


def caused_by(
    error: BaseException, kinds: type[BaseException] | tuple[type[BaseException], ...]
) -> BaseException | None:
    """The first exception of ``kinds`` anywhere in the chain that requests and urllib3 wrap
    around a failure (arguments, causes, contexts, ``reason``), or None."""
    seen: set[int] = set()
    pending: list[object] = [error]
    while pending:
        current = pending.pop()
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, kinds):
            return current
        pending.extend([*current.args, getattr(current, "reason", None)])
        pending.extend([current.__cause__, current.__context__])
    return None


# Credentials some platforms take in the URL itself: Graph's access_token query parameter,
# Telegram's /bot<token>/ path. urllib3 logs every request line at DEBUG.
_URL_SECRETS = (
    (re.compile(r"((?:access_token|client_secret|refresh_token)=)[^&\s\"]+"), r"\1[redacted]"),
    (re.compile(r"/bot\d+:[\w-]+"), "/bot[redacted]"),
)


class RedactUrlSecrets(logging.Filter):
    """Rewrites a log record's message without the credentials a URL may carry."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = message
        for pattern, replacement in _URL_SECRETS:
            redacted = pattern.sub(replacement, redacted)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


_urllib3_log = logging.getLogger("urllib3.connectionpool")
if not any(isinstance(f, RedactUrlSecrets) for f in _urllib3_log.filters):
    _urllib3_log.addFilter(RedactUrlSecrets())


def make_session(*, timeout: float = 10.0, allow_private: bool = False) -> requests.Session:
    """A session for every outbound call. ``allow_private`` is for tests and local peers only."""
    session = _TimeoutSession(timeout)
    session.headers["User-Agent"] = USER_AGENT
    session.trust_env = False
    session.max_redirects = 5
    if not allow_private:
        adapter = _GuardedAdapter()
        session.mount("http://", adapter)
        session.mount("https://", adapter)
    return session


def session_from_settings() -> requests.Session:
    from distributor.config import get_settings

    settings = get_settings()
    return make_session(
        timeout=settings.http_timeout_seconds, allow_private=settings.allow_private_addresses
    )


def fetch_bytes(
    session: requests.Session, url: str, *, max_bytes: int, headers: dict[str, str] | None = None
) -> requests.Response:
    """GET with the body read up to ``max_bytes``; the body is left in ``response._content``."""
    if not url.startswith(("http://", "https://")):
        raise requests.exceptions.InvalidSchema(
            f"only http and https URLs are fetched, not {url!r}"
        )
    response = session.get(url, headers=headers or {}, stream=True)
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(64 * 1024):
        size += len(chunk)
        if size > max_bytes:
            response.close()
            raise ResponseTooLarge(f"{url} is larger than {max_bytes} bytes")
        chunks.append(chunk)
    response._content = b"".join(chunks)
    return response
