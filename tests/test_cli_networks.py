"""`distributor measure` and `distributor preview` for every network, as a script runs them."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import SEED_ARTICLE
from tests.test_cli import Cli

NETWORKS = ("x", "linkedin", "facebook", "threads", "telegram")


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path)


def test_measure_prints_length_limit_and_unit_for_every_platform(cli: Cli) -> None:
    text = "日本語 👨\u200d👩\u200d👧\u200d👦 https://ishr.ch/a-long-address/ #UN"
    expected = {
        "x": (6 + 1 + 2 + 1 + 23 + 1 + 3, 280),
        "mastodon": (3 + 1 + 1 + 1 + 23 + 1 + 3, 500),
        "bluesky": (len("日本語 x https://ishr.ch/a-long-address/ #UN"), 300),
        "linkedin": (len(text) + 4, 3000),  # the family is 11 UTF-16 units; #UN a hashtag
        "facebook": (len(text) + 4, 63206),
        "threads": (3 + 1 + 25 + 1 + 31 + 1 + 3, 500),
        "telegram": (len(text) + 4, 4096),
    }
    for platform, (length, limit) in expected.items():
        measured = cli.json("measure", "--platform", platform, text)
        assert (measured["length"], measured["limit"]) == (length, limit), platform
        assert measured["fits"] is True
        assert measured["unit"]
    telegram = cli.json("measure", "--platform", "telegram", text)
    assert telegram["utf16_length"] == len(text.encode("utf-16-le")) // 2


def test_measure_says_when_a_post_is_too_long(cli: Cli) -> None:
    measured = cli.json("measure", "--platform", "x", "日" * 141)
    assert (measured["length"], measured["fits"]) == (282, False)


def test_preview_shows_every_network_within_its_limit(cli: Cli) -> None:
    args = [arg for platform in NETWORKS for arg in ("--platform", platform)]
    out = cli.json("preview", str(SEED_ARTICLE), *args)
    by_platform = {item["platform"]: item for item in out}
    assert set(by_platform) == set(NETWORKS)
    for platform, item in by_platform.items():
        assert "error" not in item, item
        assert item["length"] <= item["limit"], platform
        assert item["link"] in item["text"].split()
    assert by_platform["linkedin"]["card"]["title"].startswith("Civil society stresses")
    assert by_platform["x"]["thread"] == []
    assert cli.json("articles") == []


def test_preview_can_thread_and_tag_links(cli: Cli) -> None:
    out = cli.json(
        "preview", str(SEED_ARTICLE), "-p", "x", "-p", "linkedin", "--thread", "--utm-campaign", "w"
    )
    by_platform = {item["platform"]: item for item in out}
    assert by_platform["x"]["thread"]
    assert by_platform["x"]["text"].count("1/") == 1
    assert by_platform["linkedin"]["thread"] == []  # LinkedIn has no threads
    assert by_platform["x"]["link"].endswith("?utm_source=x&utm_medium=social&utm_campaign=w")
    assert by_platform["linkedin"]["link"].endswith(
        "utm_source=linkedin&utm_medium=social&utm_campaign=w"
    )


def test_preview_shows_a_thread_to_a_person(cli: Cli) -> None:
    shown = cli.run("preview", str(SEED_ARTICLE), "-p", "x", "--thread").stdout
    assert "↳ reply" in shown
    assert "2/2" in shown


def test_channel_add_takes_formatting_options_and_refuses_a_thread_it_cannot_post(
    cli: Cli,
) -> None:
    cli.run(
        "channel",
        "add",
        "x-account",
        "--kind",
        "x",
        "-o",
        "access_token=x-access-token",
        "--thread",
        "--utm-campaign",
        "weekly",
        "--max-hashtags",
        "1",
    )
    cli.json("ingest", str(SEED_ARTICLE))
    [rendition] = cli.json("show", "1")["renditions"]
    assert rendition["channel"] == "x-account" and rendition["status"] == "awaiting review"

    refused = cli.run(
        "channel",
        "add",
        "files",
        "--kind",
        "outbox",
        "-o",
        "directory=/tmp/x",
        "--thread",
        ok=False,
    )
    assert refused.returncode != 0 and "cannot post threads" in refused.stderr
