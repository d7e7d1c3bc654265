"""Connecting a channel with formatting options: they are validated where they are given,
stored with the channel, and shape the posts rendered for it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from distributor import articles
from distributor.channel_setup import ChannelSetupError, add_channel
from distributor.storage import Database
from distributor.storage import tables as t
from tests.factories import seed_article, settings_for

X_OPTIONS = {"access_token": "x-access-token", "api_base": "https://api.x.example"}


def _add(db: Database, tmp_path: Path, kind: str, options: dict[str, Any], **extra: Any) -> Any:
    settings = settings_for(db.url, tmp_path)
    with db.session() as session:
        channel = add_channel(
            session,
            name=f"{kind}-channel",
            kind=kind,
            options=options,
            schedule=None,
            secret_key=settings.secret_key.get_secret_value(),
            **extra,
        )
        return channel.config


def test_formatting_options_are_stored_and_shape_the_rendered_post(
    db: Database, tmp_path: Path
) -> None:
    settings = settings_for(db.url, tmp_path)
    config = _add(
        db,
        tmp_path,
        "x",
        X_OPTIONS,
        post_format={"thread": True, "utm": {"campaign": "weekly"}, "max_hashtags": 1},
    )
    assert config["format"] == {"thread": True, "utm": {"campaign": "weekly"}, "max_hashtags": 1}

    with db.session() as session:
        stored = articles.ingest_articles(
            session, [seed_article(settings)], source="seed", settings=settings
        )
        rendition = session.scalars(
            select(t.Rendition).where(t.Rendition.article_id == stored[0].row.id)
        ).one()
        post = rendition.payload
    assert post is not None, rendition.error
    assert "utm_campaign=weekly" in post["link"] and "utm_source=x" in post["link"]
    assert post["thread"], "the seed lead does not fit one post on X: it continues in replies"
    assert post["text"].count("#") <= 1


def test_a_thread_is_refused_for_a_channel_that_cannot_post_replies(
    db: Database, tmp_path: Path
) -> None:
    with pytest.raises(ChannelSetupError, match="outbox channels cannot post threads"):
        _add(db, tmp_path, "outbox", {"directory": str(tmp_path)}, post_format={"thread": True})


@pytest.mark.parametrize(
    ("kind", "options"),
    [
        ("mastodon", {"base_url": "https://social.example", "access_token": "token"}),
        ("bluesky", {"identifier": "news.example", "app_password": "app-password"}),
    ],
)
def test_a_thread_is_accepted_for_mastodon_and_bluesky_which_post_replies(
    db: Database, tmp_path: Path, kind: str, options: dict[str, Any]
) -> None:
    config = _add(db, tmp_path, kind, options, post_format={"thread": True})

    assert config["format"] == {"thread": True}


@pytest.mark.parametrize(
    ("post_format", "problem"),
    [
        ({"threads": True}, "unknown option"),
        ({"max_hashtags": -1}, "max_hashtags"),
        ({"utm": "weekly"}, "format.utm"),
    ],
)
def test_a_bad_formatting_option_is_named_and_nothing_is_stored(
    db: Database, tmp_path: Path, post_format: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ChannelSetupError, match=problem):
        _add(db, tmp_path, "x", X_OPTIONS, post_format=post_format)
    with db.session() as session:
        assert session.scalars(select(t.Channel)).all() == []


def test_an_email_channel_takes_no_formatting_options(db: Database, tmp_path: Path) -> None:
    with pytest.raises(ChannelSetupError, match="social channels"):
        _add(
            db,
            tmp_path,
            "email",
            {"list": "news", "transport": "outbox"},
            post_format={"thread": True},
        )
