"""The watch the malformed-feed tests rely on must itself see file and network access."""

from __future__ import annotations

import contextlib
import socket
from pathlib import Path

from .io_watch import recording_io


def test_the_watch_sees_a_file_being_opened(tmp_path: Path) -> None:
    target = tmp_path / "secret.txt"
    target.write_text("x")

    with recording_io() as seen:
        target.read_text()

    assert any("secret.txt" in event for event in seen)


def test_the_watch_sees_a_connection_attempt() -> None:
    with recording_io() as seen, socket.socket() as sock:
        sock.settimeout(1)
        with contextlib.suppress(OSError):
            sock.connect(("127.0.0.1", 9))

    assert any(event.startswith("socket.connect") for event in seen)
