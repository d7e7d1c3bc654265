"""A real HTTP server on loopback that serves one feed with validators, answers 304 when the
client's validators match, and records every request it handles."""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType


@dataclass
class FeedServer:
    body: bytes
    host: str = "127.0.0.1"
    etag: str = '"feed-v1"'
    last_modified: str = "Mon, 06 Mar 2023 09:12:00 GMT"
    content_type: str = "application/rss+xml; charset=utf-8"
    requests: list[dict[str, str]] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.server_address[1])

    def url(self, path: str = "/feed.xml", *, host: str | None = None) -> str:
        name = host or self.host
        if ":" in name and not name.startswith("["):
            name = f"[{name}]"
        return f"http://{name}:{self.port}{path}"

    def __enter__(self) -> FeedServer:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        server_class = type("Server", (ThreadingHTTPServer,), {"address_family": family})
        self._server = server_class((self.host, 0), _handler_for(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        assert self._server is not None and self._thread is not None
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def _handler_for(feed: FeedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            feed.requests.append({"path": self.path, **dict(self.headers.items())})
            if self.path == "/gone":
                self.send_response(410)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if self._validators_match():
                self.send_response(304)
                self.send_header("ETag", feed.etag)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", feed.content_type)
            self.send_header("Content-Length", str(len(feed.body)))
            self.send_header("ETag", feed.etag)
            self.send_header("Last-Modified", feed.last_modified)
            self.end_headers()
            self.wfile.write(feed.body)

        def _validators_match(self) -> bool:
            # RFC 9110 §13.1.3: If-None-Match wins; If-Modified-Since counts only without it.
            if_none_match = self.headers.get("If-None-Match")
            if if_none_match is not None:
                return feed.etag in [tag.strip() for tag in if_none_match.split(",")]
            return self.headers.get("If-Modified-Since") == feed.last_modified

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


def ipv6_loopback_available() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True
