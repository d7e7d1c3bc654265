"""The service's own processes for whole-system tests: real Celery workers and beat,
started as subprocesses against a given database and broker, killable like in production."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from distributor.config import get_settings

ROOT = Path(__file__).resolve().parents[2]


def wait_for(
    condition: Callable[[], bool],
    *,
    timeout: float,
    what: str | Callable[[], str],
    every: float = 0.2,
) -> None:
    """Poll ``condition``; ``what`` may be a callable so the failure shows the final state."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            said = what() if callable(what) else what
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {said}")
        time.sleep(every)


class Stack:
    """Environment shared by the test process and the workers it starts."""

    def __init__(self, env: dict[str, str], workdir: Path) -> None:
        from distributor.broker import prepare_broker

        self.env = {**os.environ, **env, "PYTHONPATH": str(ROOT)}
        prepare_broker(env["DISTRIBUTOR_BROKER_URL"])
        self.workdir = workdir
        self.processes: list[subprocess.Popen[bytes]] = []
        self.logs: list[Path] = []

    def _spawn(
        self, name: str, *args: str, extra_env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        log = self.workdir / f"{name}-{len(self.logs)}.log"
        self.logs.append(log)
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "workers.app", *args],
            cwd=ROOT,
            env={**self.env, **(extra_env or {})},
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes.append(process)
        return process

    def start_worker(
        self,
        *,
        concurrency: int = 2,
        queues: str = "render,email,social",
        extra_env: dict[str, str] | None = None,
    ) -> subprocess.Popen[bytes]:
        return self._spawn(
            "worker",
            "worker",
            "-Q",
            queues,
            "-c",
            str(concurrency),
            "--without-gossip",
            "--without-mingle",
            "--loglevel",
            "INFO",
            "--hostname",
            f"test{len(self.processes)}@%h",
            extra_env=extra_env,
        )

    def start_beat(self) -> subprocess.Popen[bytes]:
        return self._spawn(
            "beat", "beat", "--loglevel", "INFO", "--schedule", str(self.workdir / "beat-schedule")
        )

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        """SIGKILL the whole process group: the worker and its pool children die at once."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    continue
        for process in self.processes:
            # The test has its verdict; a worker still polling the embedded broker need not
            # be waited for long.
            try:
                process.wait(timeout=3)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)

    def log_tail(self, lines: int = 40) -> str:
        out = []
        for log in self.logs:
            text = log.read_text(errors="replace").splitlines()[-lines:]
            out.append(f"--- {log.name}\n" + "\n".join(text))
        return "\n".join(out)


def stack_env(
    *,
    database_url: str,
    broker_url: str,
    data_dir: Path,
    public_url: str = "https://news.example.org",
) -> dict[str, str]:
    return {
        "DISTRIBUTOR_DATABASE_URL": database_url,
        "DISTRIBUTOR_BROKER_URL": broker_url,
        "DISTRIBUTOR_DATA_DIR": str(data_dir),
        "DISTRIBUTOR_SECRET_KEY": "test-secret-key-not-for-production",
        "DISTRIBUTOR_PUBLIC_URL": public_url,
        "DISTRIBUTOR_ALLOW_PRIVATE_ADDRESSES": "true",
        "DISTRIBUTOR_LEASE_SECONDS": "6",
        "DISTRIBUTOR_DISPATCH_INTERVAL_SECONDS": "0.5",
        "DISTRIBUTOR_SWEEP_INTERVAL_SECONDS": "1",
        "DISTRIBUTOR_EMAIL_BATCH_SIZE": "50",
        "DISTRIBUTOR_ORG_TIMEZONE": "Europe/Zurich",
    }


@pytest.fixture
def use_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[dict[str, str]], None]]:
    """Point this test process's settings at the same environment as its workers."""

    def apply(env: dict[str, str]) -> None:
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        get_settings.cache_clear()

    yield apply
    get_settings.cache_clear()
