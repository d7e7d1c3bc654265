"""A watch on file and network access through Python's audit hooks: a real observation of what
the code under test does, not a mock."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_WATCHED_EVENTS = frozenset(
    {
        "open",
        "socket.connect",
        "socket.getaddrinfo",
        "socket.gethostbyname",
        "urllib.Request",
        "subprocess.Popen",
        "os.system",
    }
)
# Imports open the interpreter's own files; those are not the input reaching out.
_INSTALL_ROOTS = tuple(
    {str(Path(p).resolve()) for p in (sys.prefix, sys.base_prefix, *sys.path) if p}
)
_recorders: list[list[str]] = []


def _audit(event: str, args: tuple[object, ...]) -> None:
    if not _recorders or event not in _WATCHED_EVENTS:
        return
    if event == "open":
        target = args[0]
        if isinstance(target, int):
            return
        if isinstance(target, str | bytes | Path):
            path = str(Path(target.decode() if isinstance(target, bytes) else target).resolve())
            if path.startswith(_INSTALL_ROOTS):
                return
    _recorders[-1].append(f"{event} {args[0]!r}")


sys.addaudithook(_audit)


@contextmanager
def recording_io() -> Iterator[list[str]]:
    """Collect every file open and network call made inside the block."""
    seen: list[str] = []
    _recorders.append(seen)
    try:
        yield seen
    finally:
        _recorders.remove(seen)
