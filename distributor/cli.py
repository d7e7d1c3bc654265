"""`distributor …`: every read command takes ``--json`` so scripts can drive it."""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from distributor import accounts, articles, delivery, services
    from distributor.config import Settings
    from distributor.storage import tables as t


class _OnFirstUse:
    """A module imported when one of its names is first used: ``measure`` and ``preview``
    need neither the database nor the worker stack, and a script may call them per post."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attribute: str) -> Any:
        return getattr(importlib.import_module(self._name), attribute)


if not TYPE_CHECKING:
    accounts = _OnFirstUse("distributor.accounts")
    articles = _OnFirstUse("distributor.articles")
    delivery = _OnFirstUse("distributor.delivery")
    services = _OnFirstUse("distributor.services")
    t = _OnFirstUse("distributor.storage.tables")


def get_settings() -> Settings:
    from distributor.config import get_settings as configured

    return configured()


def select(*entities: Any) -> Any:
    from sqlalchemy import select as sql_select

    return sql_select(*entities)


def utcnow() -> datetime:
    from distributor.storage.tables import utcnow as now

    return now()


app = typer.Typer(no_args_is_help=True, help="Articles in, reviewed once, delivered exactly once.")
user_app = typer.Typer(no_args_is_help=True, help="Users and their roles.")
channel_app = typer.Typer(no_args_is_help=True, help="Connected destinations.")
subscriber_app = typer.Typer(no_args_is_help=True, help="Own mailing lists.")
feed_app = typer.Typer(no_args_is_help=True, help="Feeds polled for new articles.")
app.add_typer(user_app, name="user")
app.add_typer(channel_app, name="channel")
app.add_typer(subscriber_app, name="subscriber")
app.add_typer(feed_app, name="feed")

console = Console()
err = Console(stderr=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
AsOpt = Annotated[
    str, typer.Option("--as", help="Act as this user (default: DISTRIBUTOR_ACTING_USER).")
]
ChannelOpt = Annotated[
    list[str] | None, typer.Option("--channel", help="Only this channel (repeatable).")
]


class Failure(Exception):
    """A problem the person can fix; printed without a traceback."""


def add_row(table: Table, *values: object) -> None:
    table.add_row(*("" if v is None else str(v) for v in values))


def emit(data: Any, as_json: bool, table: Table | None = None) -> None:
    if as_json:
        sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")
    elif table is not None:
        console.print(table)
    else:
        console.print(data)


@contextmanager
def unit_of_work() -> Iterator[Session]:
    with services.database().session() as session:
        yield session


def acting_user(session: Session, email: str) -> t.User:
    email = email or get_settings().acting_user
    if not email:
        raise Failure("say who you are: --as EMAIL (or set DISTRIBUTOR_ACTING_USER)")
    return accounts.user_by_email(session, email)


# -- ingest, preview, measure --------------------------------------------------------------


@app.command()
def ingest(
    source: Annotated[str, typer.Argument(help="A file (text, JSON, RSS/Atom) or an http(s) URL.")],
    url: Annotated[str | None, typer.Option(help="Canonical URL for a plain-text article.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Store the articles from SOURCE (new ones are added, changed ones updated) and render them."""
    found = services.load_source(source, url=url)
    stored = services.ingest(found, source=source)
    rows = [
        {
            "id": s.row.id,
            "title": s.row.title,
            "status": "new" if s.created else ("updated" if s.changed else "unchanged"),
            "url": s.row.url,
        }
        for s in stored
    ]
    table = Table("id", "status", "title")
    for row in rows:
        add_row(table, str(row["id"]), row["status"], row["title"])
    emit(rows, as_json, table)


@app.command()
def preview(
    source: Annotated[str, typer.Argument(help="A file or URL; nothing is stored.")],
    platform: Annotated[
        list[str],
        typer.Option(
            "--platform",
            "-p",
            help="email, mastodon, bluesky, x, linkedin, facebook, threads, telegram, outbox",
        ),
    ],
    url: Annotated[str | None, typer.Option(help="Canonical URL for a plain-text article.")] = None,
    thread: Annotated[
        bool, typer.Option("--thread", help="Continue a long lead in numbered replies.")
    ] = False,
    utm_campaign: Annotated[
        str | None,
        typer.Option(help="Add UTM parameters (source = platform, medium = social) to the link."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Render SOURCE for each platform exactly as it would go out."""
    from distributor.domain import RenderError
    from distributor.rendering import Utm, render_email, render_post

    settings = get_settings()
    utm = Utm(campaign=utm_campaign) if utm_campaign else None
    out: list[dict[str, Any]] = []
    for article in services.load_source(source, url=url):
        for name in platform:
            result: Any = (
                render_email(article, articles.email_context(settings))
                if name == "email"
                else render_post(
                    article, name, templates_dir=settings.templates_dir, thread=thread, utm=utm
                )
            )
            if isinstance(result, RenderError):
                out.append({"article": article.title, "platform": name, "error": str(result)})
            else:
                out.append({"article": article.title, "platform": name, **result.to_dict()})
    if as_json:
        emit(out, True)
        return
    for item in out:
        console.rule(f"{item['platform']}: {item['article']}")
        if "error" in item:
            err.print(f"[red]render error:[/red] {item['error']}")
        elif item["platform"] == "email":
            console.print(
                f"[bold]Subject:[/bold] {item['subject']}\n"
                f"[bold]Preheader:[/bold] {item['preheader']}\n"
            )
            console.print(item["text"], markup=False, highlight=False)
        else:
            console.print(item["text"], markup=False, highlight=False)
            for reply in item.get("thread", []):
                console.print("[dim]  ↳ reply[/dim]")
                console.print(reply, markup=False, highlight=False)
            console.print(
                f"[dim]{item['length']}/{item['limit']}[/dim] "
                + " ".join(f"[yellow]⚠ {w}[/yellow]" for w in item.get("warnings", []))
            )


@app.command()
def measure(
    text: Annotated[str, typer.Argument()],
    platform: Annotated[str, typer.Option("--platform", "-p")],
    as_json: JsonOpt = False,
) -> None:
    """Length of TEXT by PLATFORM's own counting rule, with its limit."""
    from distributor.rendering import measure as measure_text
    from distributor.rendering.counting import MEASURES, utf16_length

    result = measure_text(platform, text)
    data: dict[str, Any] = {
        "platform": result.platform,
        "length": result.length,
        "limit": result.limit,
        "unit": MEASURES[platform].unit,
        "fits": result.fits,
        "detail": result.detail,
    }
    if platform == "telegram":
        data["utf16_length"] = utf16_length(text)  # entity offsets are in these units
    if as_json:
        emit(data, True)
        return
    verdict = "fits" if result.fits else "TOO LONG"
    detail = f" — {result.detail}" if result.detail else ""
    console.print(f"{result.length}/{result.limit} ({platform}) {verdict}{detail}")


# -- articles and review ---------------------------------------------------------------------


@app.command("articles")
def list_articles(as_json: JsonOpt = False, limit: int = 50) -> None:
    """Articles, newest first, with their delivery counts by state."""
    with unit_of_work() as session:
        rows = session.scalars(select(t.Article).order_by(t.Article.id.desc()).limit(limit)).all()
        data = [
            {
                "id": r.id,
                "title": r.title,
                "url": r.url,
                "version": r.version,
                "deliveries": delivery.counts_by_state(session, r.id),
            }
            for r in rows
        ]
    table = Table("id", "title", "deliveries")
    for d in data:
        counts: dict[str, int] = d["deliveries"]
        add_row(table, d["id"], d["title"], ", ".join(f"{k}: {v}" for k, v in counts.items()))
    emit(data, as_json, table)


def rendition_view(session: Session, rendition: t.Rendition, channel: t.Channel) -> dict[str, Any]:
    from distributor.approval import current_decision

    decision = current_decision(session, rendition)
    return {
        "rendition_id": rendition.id,
        "channel": channel.name,
        "kind": channel.kind,
        "content_hash": rendition.content_hash,
        "error": rendition.error,
        "status": decision.decision + "d" if decision else "awaiting review",
        "payload": rendition.payload,
    }


@app.command()
def show(article: str, as_json: JsonOpt = False) -> None:
    """An article's renditions (what each channel will send) and their review status."""
    with unit_of_work() as session:
        row = articles.get_article(session, article)
        views = [
            rendition_view(session, r, c)
            for r, c in session.execute(
                select(t.Rendition, t.Channel)
                .join(t.Channel, t.Channel.id == t.Rendition.channel_id)
                .where(t.Rendition.article_id == row.id)
                .order_by(t.Channel.id)
            ).all()
        ]
        data = {"id": row.id, "title": row.title, "url": row.url, "renditions": views}
    if as_json:
        emit(data, True)
        return
    console.rule(f"#{row.id} {row.title}")
    for v in views:
        payload = v["payload"] or {}
        console.print(f"[bold]{v['channel']}[/bold] ({v['kind']}) — {v['status']}")
        if v["error"]:
            err.print(f"  [red]render error:[/red] {v['error']}")
        elif payload.get("kind") == "email":
            console.print(f"  Subject: {payload['subject']}", markup=False)
        else:
            console.print(f"  {payload.get('text')}", markup=False, highlight=False)


def _decide(
    article: str, decision: str, user: str, channels: list[str] | None, comment: str
) -> None:
    with unit_of_work() as session:
        row = articles.get_article(session, article)
        who = acting_user(session, user)
        made = services.decide_article(
            session, row, who, decision, channel_names=channels, comment=comment
        )
    for d in made:
        console.print(f"{d.channel}: {d.decision}d ({d.content_hash[:12]})")


@app.command()
def approve(article: str, user: AsOpt = "", channel: ChannelOpt = None, comment: str = "") -> None:
    """Approve an article's renditions (all, or the named channels) in their current form."""
    _decide(article, "approve", user, channel, comment)


@app.command()
def reject(
    article: str,
    comment: Annotated[str, typer.Option(help="Why; shown to the editors.")],
    user: AsOpt = "",
    channel: ChannelOpt = None,
) -> None:
    """Reject an article's renditions; rejected renditions never send."""
    _decide(article, "reject", user, channel, comment)


@app.command()
def edit(
    article: str,
    channel: Annotated[str, typer.Option("--channel")],
    user: AsOpt = "",
    subject: str | None = None,
    preheader: str | None = None,
    text: str | None = None,
) -> None:
    """Edit a rendition (email subject/preheader, post text). Voids its approval."""
    changes = {
        k: v
        for k, v in {"subject": subject, "preheader": preheader, "text": text}.items()
        if v is not None
    }
    if not changes:
        raise Failure("nothing to change: give --subject, --preheader or --text")
    with unit_of_work() as session:
        row = articles.get_article(session, article)
        who = acting_user(session, user)
        found = session.execute(
            select(t.Rendition)
            .join(t.Channel, t.Channel.id == t.Rendition.channel_id)
            .where(t.Rendition.article_id == row.id, t.Channel.name == channel)
        ).scalar_one_or_none()
        if found is None:
            raise Failure(f"article {row.id} has no rendition for channel {channel!r}")
        services.edit_rendition(session, found, who, changes, get_settings())
        console.print(f"{channel}: edited; approval voided (new hash {found.content_hash[:12]})")


@app.command()
def schedule(
    article: str,
    user: AsOpt = "",
    channel: ChannelOpt = None,
    now: Annotated[bool, typer.Option("--now", help="Send as soon as possible.")] = False,
    at: Annotated[str | None, typer.Option(help="Local time, e.g. '2026-11-29 09:00'.")] = None,
    next_slot: Annotated[
        bool, typer.Option("--next-slot", help="The channel's next free slot.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Create the deliveries of the approved renditions (default: each channel's policy)."""
    from distributor.scheduler import schedule_article
    from distributor.scheduling import parse_local_datetime

    if sum([now, at is not None, next_slot]) > 1:
        raise Failure("choose one of --now, --at and --next-slot")
    zone = services.zone()
    when: Any = "now" if now else "at" if at else "slot" if next_slot else "policy"
    moment = parse_local_datetime(at, zone) if at else None
    with unit_of_work() as session:
        row = articles.get_article(session, article)
        who = acting_user(session, user)
        planned = schedule_article(
            session, row, who, when=when, at=moment, zone=zone, now=utcnow(), channel_names=channel
        )
    data = [
        {
            "channel": p.channel,
            "deliveries": p.deliveries,
            "not_before": p.not_before.isoformat(),
            "not_before_local": p.not_before.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z"),
            "not_after": p.not_after.isoformat(),
        }
        for p in planned
    ]
    table = Table("channel", "deliveries", f"from ({zone.key})")
    for d in data:
        add_row(table, d["channel"], str(d["deliveries"]), d["not_before_local"])
    emit(data, as_json, table)


# -- deliveries ------------------------------------------------------------------------------


deliveries_app = typer.Typer(invoke_without_command=True, help="The delivery ledger.")
app.add_typer(deliveries_app, name="deliveries")


@deliveries_app.callback()
def deliveries(
    ctx: typer.Context,
    article: str | None = None,
    state: str | None = None,
    limit: int = 200,
    as_json: JsonOpt = False,
) -> None:
    """Every delivery with its state, attempts and remote link."""
    if ctx.invoked_subcommand:
        return
    from distributor.sending import list_deliveries

    with unit_of_work() as session:
        article_id = articles.get_article(session, article).id if article else None
        rows = list_deliveries(session, article_id=article_id, state=state, limit=limit)
        names = dict(session.execute(select(t.Channel.id, t.Channel.name)).all())
        data = [
            {
                "id": d.id,
                "article_id": d.article_id,
                "channel": names.get(d.channel_id),
                "target": d.target,
                "state": d.state,
                "attempts": d.attempts,
                "not_before": d.not_before.isoformat(),
                "remote_id": d.remote_id,
                "remote_url": d.remote_url,
                "last_error": d.last_error,
            }
            for d in rows
        ]
        counts = delivery.counts_by_state(session, article_id)
    summary = ", ".join(f"{state}: {n}" for state, n in sorted(counts.items())) or "none"
    table = Table("id", "channel", "target", "state", "tries", "remote / error", title=summary)
    for d in data:
        add_row(
            table,
            str(d["id"]),
            str(d["channel"]),
            d["target"],
            d["state"],
            str(d["attempts"]),
            d["remote_url"] or d["remote_id"] or d["last_error"] or "",
        )
    emit(data, as_json, table)


@deliveries_app.command("resolve")
def resolve(
    delivery_id: int,
    sent: Annotated[bool, typer.Option("--sent", help="It did go out.")] = False,
    resend: Annotated[bool, typer.Option("--resend", help="It did not: send it again.")] = False,
    url: str | None = None,
    user: AsOpt = "",
) -> None:
    """Decide an ``unknown`` delivery."""
    if sent == resend:
        raise Failure("say --sent or --resend")
    with unit_of_work() as session:
        who = acting_user(session, user)
        row = delivery.resolve_unknown(
            session, delivery_id, sent=sent, remote_url=url, user_id=who.id, now=utcnow()
        )
        console.print(f"delivery {row.id}: {row.state}")


@app.command("send-due")
def send_due(as_json: JsonOpt = False) -> None:
    """Dispatch and send everything due now in this process (no worker needed)."""
    from distributor.delivery import counts_by_state

    with unit_of_work() as session:
        total = counts_by_state(session).get("pending", 0)
    sender = services.sender()
    outcome: dict[str, int] = {}
    with Progress(console=err, transient=True, disable=as_json) as progress:
        task = progress.add_task("sending", total=total)
        # The dispatcher hands out a bounded amount at a time; ask until nothing is due.
        while jobs := services.dispatch_due():
            for job in jobs:
                if job.kind == "email":
                    result = sender.send_email_batch(
                        list(job.delivery_ids), progress=lambda n: progress.advance(task, n)
                    )
                else:
                    result = {sender.send_post(job.delivery_ids[0]): 1}
                    progress.advance(task, 1)
                for k, v in result.items():
                    outcome[k] = outcome.get(k, 0) + v
    emit(outcome, as_json)


@app.command()
def sweep(as_json: JsonOpt = False) -> None:
    """Return expired claims, mark stuck sends unknown, reconcile what can be checked."""
    emit(services.sweep_and_reconcile(), as_json)


@app.command()
def pause(user: AsOpt = "") -> None:
    """Stop all sending now (the kill switch); nothing is lost."""
    with unit_of_work() as session:
        delivery.set_paused(session, True, acting_user(session, user).id)
    console.print("sending paused")


@app.command()
def resume(user: AsOpt = "") -> None:
    """Resume sending."""
    with unit_of_work() as session:
        delivery.set_paused(session, False, acting_user(session, user).id)
    console.print("sending resumed")


# -- users, channels, subscribers, feeds -------------------------------------------------------


@user_app.command("add")
def user_add(
    email: str,
    role: Annotated[str, typer.Option(help="editor, approver or admin")],
    name: str = "",
    password: Annotated[str | None, typer.Option(help="For the dashboard login.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Add a user; prints their API token once."""
    with unit_of_work() as session:
        user, token = accounts.add_user(session, email, name=name, role=role, password=password)
        data = {"id": user.id, "email": user.email, "role": user.role, "api_token": token}
    if as_json:
        emit(data, True)
        return
    console.print(f"user {data['email']} ({data['role']}) added. API token (shown once): {token}")


@channel_app.command("add")
def channel_add(
    name: str,
    kind: Annotated[str, typer.Option(help="email, mastodon, bluesky or outbox")],
    option: Annotated[
        list[str] | None, typer.Option("--option", "-o", help="key=value (repeatable)")
    ] = None,
    slots: Annotated[str | None, typer.Option(help="Daily local times, e.g. 09:00,13:00")] = None,
    spacing: Annotated[int, typer.Option(help="Minimum minutes between sends")] = 0,
    window_hours: Annotated[float, typer.Option(help="How late a send may still go out")] = 24.0,
    thread: Annotated[
        bool,
        typer.Option(
            help="Continue a long lead in numbered replies (x, threads, mastodon, bluesky)"
        ),
    ] = False,
    utm_campaign: Annotated[
        str | None, typer.Option(help="Add UTM parameters to the article link with this campaign")
    ] = None,
    max_hashtags: Annotated[
        int | None, typer.Option(help="At most this many hashtags (default: per platform)")
    ] = None,
) -> None:
    """Connect a destination. Secrets given as options are stored encrypted."""
    from distributor.channel_setup import add_channel

    options: dict[str, Any] = {}
    for item in option or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise Failure(f"--option {item!r}: expected key=value")
        options[key.strip()] = _coerce(value)
    schedule = {
        "mode": "slots" if slots else "immediate",
        "slots": (slots or "").split(",") if slots else [],
        "min_spacing_minutes": spacing,
        "window_hours": window_hours,
    }
    post_format: dict[str, Any] = {}
    if thread:
        post_format["thread"] = True
    if utm_campaign:
        post_format["utm"] = {"campaign": utm_campaign}
    if max_hashtags is not None:
        post_format["max_hashtags"] = max_hashtags
    with unit_of_work() as session:
        row = add_channel(
            session,
            name=name,
            kind=kind,
            options=options,
            schedule=schedule,
            secret_key=get_settings().secret_key.get_secret_value(),
            post_format=post_format or None,
        )
        for article_row in session.scalars(select(t.Article)):
            articles.render_renditions(session, article_row, get_settings())
        console.print(f"channel {row.name} ({row.kind}) added")


def _coerce(value: str) -> Any:
    lowered = value.strip().lower()
    if lowered in {"true", "yes", "on"}:
        return True
    if lowered in {"false", "no", "off"}:
        return False
    if lowered.isdigit():
        return int(lowered)
    return value


@channel_app.command("list")
def channel_list(as_json: JsonOpt = False) -> None:
    """Connected channels and their status."""
    with unit_of_work() as session:
        data = [
            {
                "id": c.id,
                "name": c.name,
                "kind": c.kind,
                "status": c.status,
                "detail": c.status_detail,
                "enabled": c.enabled,
                "schedule": c.schedule,
                "token_expires_at": (
                    c.token_expires_at.isoformat() if c.token_expires_at else None
                ),
            }
            for c in session.scalars(select(t.Channel).order_by(t.Channel.id))
        ]
    table = Table("id", "name", "kind", "status")
    for d in data:
        add_row(table, str(d["id"]), d["name"], d["kind"], d["status"])
    emit(data, as_json, table)


@channel_app.command("reconnect")
def channel_reconnect(
    name: str,
    option: Annotated[
        list[str] | None, typer.Option("--option", "-o", help="key=value (repeatable)")
    ] = None,
) -> None:
    """New credentials for a network channel (e.g. -o access_token=…); its held posts resume."""
    from distributor.tokens import reconnect

    options: dict[str, Any] = {}
    for item in option or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise Failure(f"--option {item!r}: expected key=value")
        options[key.strip()] = _coerce(value)
    try:
        with unit_of_work() as session:
            row = reconnect(
                session,
                name,
                options,
                secret_key=get_settings().secret_key.get_secret_value(),
                now=utcnow(),
            )
            console.print(f"channel {row.name} reconnected")
    except (LookupError, ValueError) as error:
        raise Failure(str(error)) from None


@channel_app.command("check-tokens")
def channel_check_tokens(as_json: JsonOpt = False) -> None:
    """Tokens that expire within the warning days (the daily beat task, run now)."""
    from distributor.tokens import expiring_channels

    settings = get_settings()
    services.check_tokens(settings)
    with unit_of_work() as session:
        data = [
            {"channel": c.name, "kind": c.kind, "expires_at": c.token_expires_at.isoformat()}
            for c in expiring_channels(session, now=utcnow(), days=settings.token_warning_days)
            if c.token_expires_at is not None
        ]
    table = Table("channel", "kind", "expires")
    for d in data:
        add_row(table, d["channel"], d["kind"], d["expires_at"])
    emit(data, as_json, table)


@subscriber_app.command("add")
def subscriber_add(
    email: str, list_name: Annotated[str, typer.Option("--list")], name: str = ""
) -> None:
    """Subscribe one address to a list."""
    from distributor.subscribers import get_or_create_list, subscribe

    with unit_of_work() as session:
        added = subscribe(session, get_or_create_list(session, list_name), email, name)
    console.print(f"{email}: {'subscribed' if added else 'already subscribed'} to {list_name}")


@subscriber_app.command("import")
def subscriber_import(
    csv_file: Path, list_name: Annotated[str, typer.Option("--list")], as_json: JsonOpt = False
) -> None:
    """Import `email[,name]` rows; bad rows are reported, good rows all imported."""
    from distributor.subscribers import get_or_create_list, import_csv

    try:
        text = csv_file.read_text(encoding="utf-8-sig")
    except OSError as error:
        raise Failure(f"cannot read {csv_file}: {error.strerror}") from None
    with unit_of_work() as session:
        report = import_csv(session, get_or_create_list(session, list_name), text)
    data = {
        "added": report.added,
        "already": report.already,
        "rejected": [{"line": n, "value": v, "reason": r} for n, v, r in report.rejected],
    }
    if as_json:
        emit(data, True)
        return
    console.print(
        f"{report.added} added, {report.already} already subscribed, "
        f"{len(report.rejected)} rejected"
    )
    for n, v, r in report.rejected:
        err.print(f"  line {n}: {v!r}: {r}")


@subscriber_app.command("list")
def subscriber_list(
    list_name: Annotated[str, typer.Option("--list")], as_json: JsonOpt = False
) -> None:
    """Members of a list and their status."""
    with unit_of_work() as session:
        rows = session.execute(
            select(t.Subscriber.email, t.Membership.status)
            .join(t.Membership, t.Membership.subscriber_id == t.Subscriber.id)
            .join(t.MailingList, t.MailingList.id == t.Membership.list_id)
            .where(t.MailingList.name == list_name)
            .order_by(t.Subscriber.email)
        ).all()
    data = [{"email": e, "status": s} for e, s in rows]
    table = Table("email", "status")
    for d in data:
        add_row(table, d["email"], d["status"])
    emit(data, as_json, table)


@feed_app.command("add")
def feed_add(url: str) -> None:
    """Poll this feed on the schedule (conditional GET)."""
    feed = services.add_feed(url)
    console.print(f"feed {feed.id}: {feed.url}")


@feed_app.command("poll")
def feed_poll(as_json: JsonOpt = False) -> None:
    """Poll every feed now."""
    emit(services.poll_feeds(), as_json)


@app.command()
def up(
    host: str = "127.0.0.1",
    port: int = 8000,
    seed: Annotated[bool, typer.Option(help="Load the sample article and demo channels.")] = True,
) -> None:
    """Run the web app, a worker and beat on the configured (default: embedded) stack."""
    from distributor.runner import run_stack

    run_stack(host=host, port=port, seed=seed)


def main() -> None:
    try:
        app()
    # Bad input from the person (IngestError, ScheduleError, ChannelSetupError are ValueErrors).
    except (Failure, LookupError, ValueError, PermissionError) as error:
        err.print(f"[red]error:[/red] {error}")
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
