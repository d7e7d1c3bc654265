"""A small loopback HTTP server to build fakes of SaaS platforms on.

A fake subclasses ``FakeServer`` and declares its endpoints with ``@route``::

    class FakeThing(FakeServer):
        @route("POST", "/v1/things/{thing_id}")
        def create(self, request: Request, thing_id: str) -> Reply:
            self.things.append(request.json())
            return Reply(201, {"id": thing_id})

Every request is recorded in ``server.requests`` (tests count effects there). Faults are
injected per method and path: ``server.fail(...)`` answers the next N matching requests with
a given status, headers and body *instead of* the handler; ``server.hang_after_accept(...)``
runs the handler (the platform accepted the call) and then holds the response back, so the
client times out after the effect: the ambiguous outcome the ledger records as ``unknown``.

Handlers run on the server's threads; ``self.lock`` guards a fake's state.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self, TypeVar
from urllib.parse import parse_qs, urlsplit

JSONish = dict[str, Any] | list[Any] | str | int | float | bool | None


@dataclass(frozen=True)
class Request:
    """One request as the fake received it (header names lower-cased)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8")) if self.body else None

    def form(self) -> dict[str, str]:
        """An ``application/x-www-form-urlencoded`` body, last value per name."""
        return {k: v[-1] for k, v in parse_qs(self.body.decode("utf-8")).items()}

    def multipart(self) -> dict[str, bytes]:
        """A ``multipart/form-data`` body: part name → raw bytes."""
        head = f"Content-Type: {self.headers.get('content-type', '')}\r\n\r\n".encode()
        message = BytesParser(policy=HTTP).parsebytes(head + self.body)
        parts: dict[str, bytes] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            if isinstance(name, str) and isinstance(payload, bytes):
                parts[name] = payload
        return parts

    def params(self) -> dict[str, str]:
        """The query's fields, then those of a form body (which win), last value per name."""
        params = {k: v[-1] for k, v in self.query.items()}
        if self.body and "x-www-form-urlencoded" in self.headers.get("content-type", ""):
            params.update(self.form())
        return params

    def arg(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else None


@dataclass
class Reply:
    """What a handler answers: a JSON body (or raw bytes) plus headers."""

    status: int
    body: JSONish | bytes = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Fault:
    method: str | None
    path: re.Pattern[str]
    times: int
    reply: Reply | None = None  # answer this instead of the handler
    hold_seconds: float = 0.0  # after the handler ran, wait this long before answering


Handler = Callable[..., Reply]
F = TypeVar("F", bound=Handler)


def route(method: str, pattern: str) -> Callable[[F], F]:
    """Mark a method of a FakeServer subclass as the handler for ``method`` + ``pattern``.

    ``{name}`` in the pattern matches one path segment and is passed as a keyword argument."""

    def mark(handler: F) -> F:
        handler.__dict__.setdefault("_routes", []).append((method.upper(), pattern))
        return handler

    return mark


def _compile(pattern: str) -> re.Pattern[str]:
    regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(pattern))
    return re.compile(f"^{regex}$")


class FakeServer:
    """A threaded HTTP server on 127.0.0.1 (free port) routing to ``@route`` handlers."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.requests: list[Request] = []
        self._faults: list[Fault] = []
        self._released = threading.Event()
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        for name in dir(type(self)):
            member = getattr(type(self), name, None)
            for method, pattern in getattr(member, "_routes", ()):
                self._routes.append((method, _compile(pattern), getattr(self, name)))
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self.port: int = self._httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread: threading.Thread | None = None

    # lifecycle ------------------------------------------------------------------------------

    def start(self) -> Self:
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._released.set()  # let held responses go so their threads end
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # faults ---------------------------------------------------------------------------------

    def fail(
        self,
        status: int,
        body: JSONish | bytes = None,
        *,
        headers: dict[str, str] | None = None,
        method: str | None = None,
        path: str = ".*",
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` requests matching ``method`` and ``path`` (a regex over the
        path) with this reply; the handler does not run, so nothing happens on the platform."""
        reply = Reply(status, body, dict(headers or {}))
        with self.lock:
            self._faults.append(Fault(method, re.compile(f"^{path}$"), times, reply=reply))

    def hang_after_accept(
        self, *, method: str | None = None, path: str = ".*", seconds: float = 30.0, times: int = 1
    ) -> None:
        """Run the handler (the effect happens) but hold the response ``seconds`` (or until the
        server stops), so a client with a shorter read timeout sees a timeout after the fact."""
        with self.lock:
            self._faults.append(Fault(method, re.compile(f"^{path}$"), times, hold_seconds=seconds))

    def clear_faults(self) -> None:
        with self.lock:
            self._faults.clear()

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self._faults:
                if (fault.method in (None, method)) and fault.path.match(path):
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    # inspection -----------------------------------------------------------------------------

    def calls(self, method: str, path: str) -> list[Request]:
        """Recorded requests with this method whose path matches the regex ``path``."""
        pattern = re.compile(f"^{path}$")
        with self.lock:
            return [r for r in self.requests if r.method == method and pattern.match(r.path)]

    # dispatch -------------------------------------------------------------------------------

    def dispatch(self, request: Request) -> Reply:
        with self.lock:
            self.requests.append(request)
        fault = self._take_fault(request.method, request.path)
        if fault is not None and fault.reply is not None:
            return fault.reply
        reply = self._route(request)
        if fault is not None and fault.hold_seconds > 0:
            self._released.wait(fault.hold_seconds)
        return reply

    def _route(self, request: Request) -> Reply:
        allowed = False
        for method, pattern, handler in self._routes:
            match = pattern.match(request.path)
            if match is None:
                continue
            if method != request.method:
                allowed = True
                continue
            try:
                return handler(request, **match.groupdict())
            except Exception as exc:  # a bug in the fake: make it loud, not a hung client
                return Reply(500, {"fake_error": f"{type(exc).__name__}: {exc}"})
        if allowed:
            return Reply(405, {"error": f"{request.method} not allowed on {request.path}"})
        return self.not_found(request)

    def not_found(self, request: Request) -> Reply:
        """The platform's own 404 shape; fakes override it."""
        return Reply(404, {"error": f"no route for {request.method} {request.path}"})

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                request = Request(
                    method=self.command,
                    path=parts.path,
                    query=parse_qs(parts.query, keep_blank_values=True),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                )
                reply = server.dispatch(request)
                if isinstance(reply.body, bytes):
                    payload = reply.body
                    content_type = "application/octet-stream"
                elif reply.body is None:
                    payload = b""
                    content_type = ""
                else:
                    payload = json.dumps(reply.body).encode("utf-8")
                    content_type = "application/json"
                try:
                    self.send_response(reply.status)
                    headers = {k.lower(): v for k, v in reply.headers.items()}
                    if content_type and "content-type" not in headers:
                        self.send_header("Content-Type", content_type)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout after accept): expected

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass  # tests inspect server.requests instead

        return _Handler


def running(fake: FakeServer) -> Iterator[FakeServer]:
    """For fixtures: ``yield from running(FakeX())`` starts it and always stops it."""
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Poll ``condition`` (for effects that land on a server thread)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()
