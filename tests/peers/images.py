"""A local web server with one article image on it, for link cards and media uploads."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from PIL import Image, ImageDraw


def sample_png(width: int = 1200, height: int = 675) -> bytes:
    picture = Image.new("RGB", (width, height), (11, 83, 148))
    ImageDraw.Draw(picture).rectangle((100, 100, width - 100, height - 100), fill=(242, 169, 0))
    out = io.BytesIO()
    picture.save(out, format="PNG")
    return out.getvalue()


class ImageServer:
    def __init__(self, body: bytes) -> None:
        self.body = body
        self.requests = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.requests += 1
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(owner.body)))
                self.end_headers()
                self.wfile.write(owner.body)

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hero.png"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def image_server() -> Iterator[ImageServer]:
    server = ImageServer(sample_png())
    yield server
    server.stop()
