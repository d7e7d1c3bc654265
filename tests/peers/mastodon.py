"""A mastodon-mock server (PyPI ``mastodon-mock``) for channel tests, run as a subprocess.

One server per test session (it takes about a second to start); every test gets it back with
the seed data restored and no fault rules. The seeded account is ``publisher`` with the
bearer token ``publisher_token``. Uploaded media goes to a private directory that is removed
when the session ends.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.peers.local import free_port

USERNAME = "publisher"
TOKEN = "publisher_token"


def _config(port: int, media_dir: Path) -> str:
    return f"""\
domain = "127.0.0.1:{port}"
url_scheme = "http"
media_storage_path = "{media_dir}"

[database]
path = ":memory:"

[server]
host = "127.0.0.1"
port = {port}

[[seed.accounts]]
username = "{USERNAME}"
display_name = "Publisher Bot"
bot = true
access_token = "{TOKEN}"
"""


class MastodonPeer:
    """A running mastodon-mock: where it is, what landed there, and its fault switches."""

    def __init__(self, url: str, token: str = TOKEN) -> None:
        self.url = url
        self.token = token
        # A plain session: the peer is on loopback, which the service's guarded session refuses.
        self._http = requests.Session()
        self._http.trust_env = False

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def account_id(self) -> str:
        response = self._http.get(
            f"{self.url}/api/v1/accounts/verify_credentials", headers=self._auth(), timeout=10
        )
        response.raise_for_status()
        return str(response.json()["id"])

    def statuses(self) -> list[dict[str, Any]]:
        """The seeded account's statuses, newest first."""
        response = self._http.get(
            f"{self.url}/api/v1/accounts/{self.account_id()}/statuses",
            params={"limit": 40},
            headers=self._auth(),
            timeout=10,
        )
        response.raise_for_status()
        statuses: list[dict[str, Any]] = response.json()
        return statuses

    def upload(self, data: bytes, *, description: str | None = None) -> dict[str, Any]:
        """Upload media directly, bypassing the adapter (to stage server-side state)."""
        response = self._http.post(
            f"{self.url}/api/v2/media",
            headers=self._auth(),
            files={"file": ("staged.png", data, "image/png")},
            data={"description": description} if description else {},
            timeout=10,
        )
        response.raise_for_status()
        media: dict[str, Any] = response.json()
        return media

    def inject_fault(
        self,
        path: str,
        effect: dict[str, Any],
        *,
        methods: tuple[str, ...] = ("POST",),
        count: int | None = 1,
    ) -> dict[str, Any]:
        """Add a rule, e.g. ``inject_fault("/api/v1/statuses", {"type": "status", "status": 500})``.

        The rule always carries a ``match``: without one mastodon-mock applies it to every
        request, forever."""
        rule: dict[str, Any] = {"match": {"methods": list(methods), "path": path}, "effect": effect}
        if count is not None:
            rule["count"] = count
        response = self._http.post(f"{self.url}/api/v1/_mock/faults", json=rule, timeout=10)
        response.raise_for_status()
        added: dict[str, Any] = response.json()
        return added

    def clear_faults(self) -> None:
        self._http.delete(f"{self.url}/api/v1/_mock/faults", timeout=10).raise_for_status()

    def reset(self) -> None:
        self._http.post(f"{self.url}/api/v1/_mock/reset", timeout=30).raise_for_status()
        self.clear_faults()


class MastodonProcess:
    """Starts and stops the mastodon-mock subprocess."""

    def __init__(self) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="mastodon-peer-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, *, ready_timeout: float = 30.0) -> MastodonPeer:
        config = self.workdir / "mastodon_mock.toml"
        config.write_text(_config(self.port, self.workdir / "media"), encoding="utf-8")
        command = [
            sys.executable, "-m", "mastodon_mock", "serve",
            "--config", str(config), "--host", "127.0.0.1", "--port", str(self.port),
            "--log-level", "warning",
        ]  # fmt: skip
        log = (self.workdir / "server.log").open("wb")
        self._process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + ready_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                output = (self.workdir / "server.log").read_text(errors="replace")
                raise RuntimeError(f"mastodon-mock exited early:\n{output}")
            try:
                requests.get(f"{self.url}/api/v2/instance", timeout=1).raise_for_status()
                return MastodonPeer(self.url)
            except requests.RequestException:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"mastodon-mock did not answer within {ready_timeout} s")

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        shutil.rmtree(self.workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def mastodon_session_server() -> Iterator[MastodonPeer]:
    try:
        import mastodon_mock  # noqa: F401
    except ImportError:
        pytest.skip("mastodon-mock is not installed")
    process = MastodonProcess()
    try:
        yield process.start()
    finally:
        process.stop()


@pytest.fixture
def mastodon_server(mastodon_session_server: MastodonPeer) -> MastodonPeer:
    """The session's mastodon-mock with fresh seed data and no fault rules."""
    mastodon_session_server.reset()
    return mastodon_session_server
