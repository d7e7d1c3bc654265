"""Connecting channels: validated, typed config with secrets sealed before they are stored."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from distributor.channels import ALL_KINDS, channel_class
from distributor.channels.base import Channel
from distributor.rendering.options import PostOptions
from distributor.scheduling import SchedulePolicy
from distributor.secrets import seal_config
from distributor.storage import tables as t
from distributor.storage.tables import utcnow
from distributor.subscribers import get_or_create_list
from distributor.tokens import initial_expiry


class ChannelSetupError(ValueError):
    pass


class EmailChannelConfig(BaseModel):
    """An own mailing list. ``transport`` is ``smtp`` (a relay) or ``outbox`` (.eml files)."""

    list: str
    transport: Literal["smtp", "outbox"] = "smtp"
    host: str = "127.0.0.1"
    port: int = 587
    starttls: bool = True
    ssl: bool = False
    username: str | None = None
    password: Any = None
    verify_tls: bool = True
    timeout: float = 30.0


def add_channel(
    session: Session,
    *,
    name: str,
    kind: str,
    options: dict[str, Any],
    schedule: dict[str, Any] | None,
    secret_key: str,
    post_format: dict[str, Any] | None = None,
) -> t.Channel:
    """Validate and store a destination. ``post_format`` holds the formatting options of a
    social channel (``rendering.PostOptions``: thread, utm, max_hashtags)."""
    if kind not in ALL_KINDS:
        raise ChannelSetupError(
            f"unknown channel kind {kind!r}; known: {', '.join(sorted(ALL_KINDS))}"
        )
    if session.scalars(select(t.Channel).where(t.Channel.name == name)).first():
        raise ChannelSetupError(f"a channel named {name!r} already exists")
    policy = SchedulePolicy.from_dict(schedule or {})
    config: dict[str, Any]
    token_expires_at = None
    try:
        if kind == "email":
            email = EmailChannelConfig.model_validate(options)
            mailing_list = get_or_create_list(session, email.list)
            smtp: dict[str, Any] = {}
            if email.transport == "smtp":
                from distributor.channels.smtp import SmtpConfig

                smtp = seal_config(
                    SmtpConfig.model_validate(
                        {
                            k: v
                            for k, v in email.model_dump().items()
                            if k not in {"list", "transport"}
                        }
                    ),
                    secret_key,
                )
            config = {"list_id": mailing_list.id, "transport": email.transport, "settings": smtp}
        else:
            cls = channel_class(kind)
            validated = cls.Config.model_validate(options)
            config = {"settings": seal_config(validated, secret_key)}
            if post_format:
                config["format"] = _post_format(name, cls, post_format)
            token_expires_at = initial_expiry(cls, validated, utcnow())
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'config'}: {e['msg']}" for e in error.errors()
        )
        raise ChannelSetupError(f"channel {name!r}: {problems}") from None
    if post_format and kind == "email":
        raise ChannelSetupError(f"channel {name!r}: formatting options are for social channels")
    channel = t.Channel(
        name=name,
        kind=kind,
        config=config,
        schedule=policy.to_dict(),
        token_expires_at=token_expires_at,
    )
    session.add(channel)
    session.flush()
    session.add(t.AuditEvent(action="channel_add", detail={"name": name, "kind": kind}))
    return channel


def _post_format(name: str, cls: type[Channel], post_format: dict[str, Any]) -> dict[str, Any]:
    try:
        options = PostOptions.from_config(post_format)
    except ValueError as error:
        raise ChannelSetupError(f"channel {name!r}: {error}") from None
    if options.thread and not cls.posts_threads:
        # Reviewers would approve replies that never go out.
        raise ChannelSetupError(
            f"channel {name!r}: {cls.kind} channels cannot post threads (format.thread)"
        )
    return post_format
