"""Access-token lifecycle: the expiry stored at channel add, and the daily warning (log line
without secrets, one audit event per expiry, an optional mail to admins over real SMTP)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from distributor import accounts
from distributor.channel_setup import add_channel
from distributor.sending import Sender
from distributor.storage import Database
from distributor.storage import tables as t
from distributor.tokens import expiring_channels, warn_expiring_tokens
from tests.factories import Setup, seed_setup, settings_for, smtp_options
from tests.peers.smtp import SmtpPeer

ORG = "urn:li:organization:2414183"
ADMIN = "admin@ishr.example"
KEY = "test-secret-key-not-for-production"


def _setup(tmp_path: Path, **settings: Any) -> Setup:
    db = Database(f"sqlite:///{tmp_path / 'tokens.db'}")
    db.migrate()
    channels = [
        ("linkedin-page", "linkedin", {"access_token": "li-secret-token", "author": ORG}),
        (
            "x-main",
            "x",
            {
                "access_token": "xa-secret",
                "refresh_token": "xr-secret",
                "client_id": "app",
                "token_expires_at": "2026-11-28T12:00:00+00:00",
            },
        ),
        ("x-no-refresh", "x", {"access_token": "xa-other"}),
    ]
    setup = seed_setup(db, settings_for(db.url, tmp_path, **settings), social=channels)
    with db.session() as session:
        accounts.add_user(session, ADMIN, name="Admin", role="admin", password=None)
    return setup


def _expire_in(setup: Setup, name: str, delta: timedelta) -> datetime:
    when = datetime.now(UTC) + delta
    with setup.db.session() as session:
        session.execute(
            update(t.Channel).where(t.Channel.name == name).values(token_expires_at=when)
        )
    return when


def _audits(setup: Setup, action: str) -> list[dict[str, Any]]:
    with setup.db.session() as session:
        return [
            e.detail
            for e in session.scalars(select(t.AuditEvent).where(t.AuditEvent.action == action))
        ]


def test_a_channel_stores_its_token_expiry_when_added(tmp_path: Path) -> None:
    setup = _setup(tmp_path)
    with setup.db.session() as session:
        expiry = {c.name: c.token_expires_at for c in session.scalars(select(t.Channel))}
    assert expiry["x-main"] == datetime(2026, 11, 28, 12, 0, tzinfo=UTC), "from the config"
    linkedin = expiry["linkedin-page"]
    assert linkedin is not None, "LinkedIn's 60 days, counted from the add"
    assert abs(linkedin - datetime.now(UTC) - timedelta(days=60)) < timedelta(minutes=5)
    assert expiry["newsletter"] is None and expiry["x-no-refresh"] is None


def test_a_token_expiring_within_the_warning_days_is_warned_about_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    setup = _setup(tmp_path)
    _expire_in(setup, "linkedin-page", timedelta(days=3, hours=1))
    _expire_in(setup, "x-main", timedelta(days=1))  # renews itself: no warning
    caplog.set_level(logging.WARNING, logger="distributor.tokens")
    warned = warn_expiring_tokens(setup.db, setup.settings)
    assert [w.channel for w in warned] == ["linkedin-page"]
    assert "linkedin-page" in caplog.text and "in 3 days" in caplog.text
    assert "li-secret-token" not in caplog.text
    assert [d["channel"] for d in _audits(setup, "token_expiring")] == ["linkedin-page"]
    assert warn_expiring_tokens(setup.db, setup.settings) == [], "once per expiry"
    assert len(_audits(setup, "token_expiring")) == 1
    with setup.db.session() as session:
        shown = expiring_channels(session, now=datetime.now(UTC), days=7)
        assert [c.name for c in shown] == ["linkedin-page"], "what the dashboard lists"


def test_a_token_far_from_expiry_is_left_alone(tmp_path: Path) -> None:
    setup = _setup(tmp_path)  # LinkedIn: 60 days
    assert warn_expiring_tokens(setup.db, setup.settings) == []
    assert warn_expiring_tokens(
        setup.db, setup.settings, now=datetime.now(UTC) + timedelta(days=54)
    ), "seven days before, it is"


def test_a_new_token_is_warned_about_again_when_it_nears_its_own_expiry(tmp_path: Path) -> None:
    setup = _setup(tmp_path)
    _expire_in(setup, "linkedin-page", timedelta(days=2))
    assert len(warn_expiring_tokens(setup.db, setup.settings)) == 1
    _expire_in(setup, "linkedin-page", timedelta(days=5))  # reconnected with a new token
    assert len(warn_expiring_tokens(setup.db, setup.settings)) == 1


def test_admins_get_the_warning_by_mail_through_the_chosen_email_channel(
    tmp_path: Path, smtp_server: SmtpPeer
) -> None:
    db = Database(f"sqlite:///{tmp_path / 'tokens.db'}")
    db.migrate()
    settings = settings_for(db.url, tmp_path, token_warning_email_channel="newsletter")
    setup = seed_setup(
        db,
        settings,
        email=smtp_options(smtp_server.host, smtp_server.port),
        social=[("linkedin-page", "linkedin", {"access_token": "li-secret", "author": ORG})],
    )
    with db.session() as session:
        accounts.add_user(session, ADMIN, name="Admin", role="admin", password=None)
    _expire_in(setup, "linkedin-page", timedelta(days=2))
    warn_expiring_tokens(db, settings)
    (mail,) = smtp_server.received_by(ADMIN)
    text = mail.raw.decode()
    assert "linkedin-page" in text and "li-secret" not in text
    assert smtp_server.received_by("approver@ishr.example") == [], "admins only"


def test_a_bad_warning_mail_channel_is_logged_not_fatal(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    setup = _setup(tmp_path, token_warning_email_channel="no-such-channel")
    _expire_in(setup, "linkedin-page", timedelta(days=2))
    caplog.set_level(logging.ERROR, logger="distributor.tokens")
    assert len(warn_expiring_tokens(setup.db, setup.settings)) == 1
    assert "not an email channel" in caplog.text


def test_a_refreshed_grant_replaces_the_sealed_secrets_and_the_expiry(tmp_path: Path) -> None:
    from distributor.channels.base import TokenGrant
    from distributor.secrets import open_config
    from distributor.tokens import store_grant

    setup = _setup(tmp_path)
    later = datetime(2027, 1, 1, tzinfo=UTC)
    with setup.db.session() as session:
        row = session.scalars(select(t.Channel).where(t.Channel.name == "x-main")).one()
        store_grant(
            row, TokenGrant({"access_token": "new-a", "refresh_token": "new-r"}, later), KEY
        )
    with setup.db.session() as session:
        row = session.scalars(select(t.Channel).where(t.Channel.name == "x-main")).one()
        plain = open_config(row.config["settings"], KEY)
        assert (plain["access_token"], plain["refresh_token"]) == ("new-a", "new-r")
        assert plain["client_id"] == "app" and row.token_expires_at == later
        assert "new-a" not in str(row.config)
    # Sender builds the channel from the stored config without complaint.
    with setup.db.session() as session:
        row = session.scalars(select(t.Channel).where(t.Channel.name == "x-main")).one()
    from distributor.sending import build_channel

    built = build_channel(row, setup.db, setup.settings)
    assert built.token_expires_at() == later
    assert Sender(setup.db, setup.settings).limiter is not None


def test_adding_a_channel_with_bad_options_names_the_problem(tmp_path: Path) -> None:
    from distributor.channel_setup import ChannelSetupError

    setup = _setup(tmp_path)
    with setup.db.session() as session, pytest.raises(ChannelSetupError, match="author"):
        add_channel(
            session,
            name="bad",
            kind="linkedin",
            options={"access_token": "t", "author": "ishr"},
            schedule=None,
            secret_key=KEY,
        )


def test_the_cli_lists_expiring_tokens_and_reconnects_a_channel(tmp_path: Path) -> None:
    from tests.test_cli import Cli

    cli = Cli(tmp_path)
    cli.run("channel", "add", "linkedin-page", "--kind", "linkedin", "-o", "access_token=old",
            "-o", f"author={ORG}")  # fmt: skip
    (listed,) = cli.json("channel", "list")
    assert listed["token_expires_at"] is not None
    assert cli.json("channel", "check-tokens") == []
    soon = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    cli.run("channel", "reconnect", "linkedin-page", "-o", "access_token=new",
            "-o", f"token_expires_at={soon}")  # fmt: skip
    (expiring,) = cli.json("channel", "check-tokens")
    assert expiring["channel"] == "linkedin-page"
    refused = cli.run("channel", "reconnect", "nowhere", "-o", "access_token=x", ok=False)
    assert (
        refused.returncode != 0 and "no channel named 'nowhere'" in refused.stderr + refused.stdout
    )
