"""`distributor …` as a person or a script runs it: a real process, real files, --json."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SEED_ARTICLE, SEED_FEED

ROOT = Path(__file__).resolve().parents[1]


class Cli:
    def __init__(self, data_dir: Path) -> None:
        self.env = {
            **os.environ,
            "DISTRIBUTOR_DATA_DIR": str(data_dir),
            "DISTRIBUTOR_DATABASE_URL": f"sqlite:///{data_dir / 'cli.db'}",
            "DISTRIBUTOR_SECRET_KEY": "test-secret-key-not-for-production",
            "DISTRIBUTOR_PUBLIC_URL": "https://news.example.org",
        }

    def run(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "distributor.cli", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if ok:
            assert result.returncode == 0, result.stderr + result.stdout
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "--json").stdout)


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path)


def test_preview_renders_every_platform_and_stores_nothing(cli: Cli, tmp_path: Path) -> None:
    out = cli.json("preview", str(SEED_ARTICLE), "-p", "email", "-p", "mastodon", "-p", "bluesky")
    by_platform = {item["platform"]: item for item in out}
    assert set(by_platform) == {"email", "mastodon", "bluesky"}
    assert by_platform["email"]["subject"].startswith("Civil society stresses")
    assert by_platform["bluesky"]["length"] <= 300
    assert by_platform["bluesky"]["facets"]
    assert by_platform["mastodon"]["length"] <= 500
    assert cli.json("articles") == []


def test_measure_counts_by_the_platforms_own_rule(cli: Cli) -> None:
    text = "Read it: https://ishr.ch/latest-updates/a-very-long-address-that-goes-on-and-on/"
    mastodon = cli.json("measure", "--platform", "mastodon", text)
    bluesky = cli.json("measure", "--platform", "bluesky", text)
    assert mastodon["length"] == len("Read it: ") + 23
    assert bluesky["length"] == len(text)
    assert (mastodon["limit"], bluesky["limit"]) == (500, 300)
    unknown = cli.run("measure", "--platform", "myspace", "hi", ok=False)
    assert unknown.returncode == 2 and "myspace" in unknown.stderr


def test_the_same_article_from_text_and_feed_is_one_article_updated(cli: Cli) -> None:
    first = cli.json("ingest", str(SEED_ARTICLE))
    assert [a["status"] for a in first] == ["new"]
    assert [a["status"] for a in cli.json("ingest", str(SEED_ARTICLE))] == ["unchanged"]
    from_feed = cli.json("ingest", str(SEED_FEED))
    assert len(from_feed) == 3
    assert from_feed[0]["id"] == first[0]["id"] and from_feed[0]["status"] == "updated"
    assert len(cli.json("articles")) == 3


def test_a_malformed_feed_is_refused_with_a_reason_and_nothing_is_stored(
    cli: Cli, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.rss"
    broken.write_bytes(SEED_FEED.read_bytes()[:1500])
    result = cli.run("ingest", str(broken), ok=False)
    assert result.returncode == 2
    assert "broken.rss" in result.stderr
    assert cli.json("articles") == []


def test_review_schedule_and_send_from_the_command_line(cli: Cli) -> None:
    cli.run("user", "add", "boss@ishr.example", "--role", "approver")
    cli.run("user", "add", "writer@ishr.example", "--role", "editor")
    cli.run(
        "channel",
        "add",
        "newsletter",
        "--kind",
        "email",
        "-o",
        "list=news",
        "-o",
        "transport=outbox",
    )
    cli.run(
        "channel",
        "add",
        "social",
        "--kind",
        "outbox",
        "-o",
        f"directory={cli.env['DISTRIBUTOR_DATA_DIR']}/social",
    )
    for n in range(3):
        cli.run("subscriber", "add", f"reader{n}@example.org", "--list", "news")
    cli.json("ingest", str(SEED_ARTICLE))

    refused = cli.run("approve", "1", "--as", "writer@ishr.example", ok=False)
    assert refused.returncode == 2 and "approver" in refused.stderr
    cli.run("approve", "1", "--as", "boss@ishr.example")
    shown = cli.json("show", "1")
    assert {r["status"] for r in shown["renditions"]} == {"approved"}

    cli.run(
        "edit",
        "1",
        "--channel",
        "social",
        "--as",
        "writer@ishr.example",
        "--text",
        "Civil society met the UN Secretary-General https://ishr.ch/x",
    )
    statuses = {r["channel"]: r["status"] for r in cli.json("show", "1")["renditions"]}
    assert statuses == {"newsletter": "approved", "social": "awaiting review"}

    planned = cli.json("schedule", "1", "--now", "--as", "boss@ishr.example")
    assert [p["channel"] for p in planned] == ["newsletter"]
    assert planned[0]["deliveries"] == 3
    assert cli.json("send-due") == {"sent": 3}
    deliveries = cli.json("deliveries")
    assert {d["state"] for d in deliveries} == {"sent"}
    assert cli.json("send-due") == {}
