"""What every local peer needs: a free loopback port, and a one-time install into a cache
outside the clone (``~/.cache/distributor-test-peers/<name>``) that later runs and CI reuse.

An install runs once per machine: concurrent runs wait on a lock, the install goes to a
staging directory and becomes visible only by a rename when complete, and its log tail is in
the error when it fails. Only a machine without ``node`` and ``npm`` skips a peer's tests.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

MARKER = ".installed.json"


class PeerUnavailable(Exception):
    """The machine cannot run this peer at all (no npm / node): tests skip."""


class PeerInstallError(RuntimeError):
    """Installing the peer failed: tests fail, with the log tail in the message."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "distributor-test-peers"


def log_tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def install_once(
    name: str,
    command: Callable[[Path], list[str]],
    *,
    timeout: float,
    describe: dict[str, Any],
    complete: Callable[[Path], bool] = lambda staging: True,
) -> Path:
    """``cache_root() / name``, running ``command(staging)`` first if no complete install of
    it is cached. ``complete`` checks the staged install beyond the command's exit status."""
    target = cache_root() / name
    if (target / MARKER).exists():
        return target
    missing = [tool for tool in ("npm", "node") if shutil.which(tool) is None]
    if missing:
        raise PeerUnavailable(f"the {name} peer needs {' and '.join(missing)}")
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a second run starting together waits for the first
        if (target / MARKER).exists():
            return target
        # Holding the lock, anything half-done is debris from an interrupted install.
        for debris in root.glob(f".{name}.install-*"):
            shutil.rmtree(debris, ignore_errors=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{name}.install-", dir=root))
        log_path = root / f"{name}.install.log"
        started = time.monotonic()
        with open(log_path, "wb") as log:
            try:
                result = subprocess.run(
                    command(staging),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    timeout=timeout,
                    check=False,
                )
                reason = f"exit status {result.returncode}" if result.returncode else ""
            except subprocess.TimeoutExpired:
                reason = f"no result after {timeout} s"
        if not reason and not complete(staging):
            reason = "the install is incomplete"
        if reason:
            shutil.rmtree(staging, ignore_errors=True)
            raise PeerInstallError(
                f"installing {name} failed ({reason}); log {log_path}, last lines:\n"
                f"{log_tail(log_path)}"
            )
        (staging / MARKER).write_text(
            json.dumps({**describe, "seconds": round(time.monotonic() - started)})
        )
        staging.chmod(0o755)  # mkdtemp's 0700 would hide a shared cache from other users
        if target.exists():
            shutil.rmtree(target)
        os.rename(staging, target)  # the rename makes the install visible, never half of one
    return target
