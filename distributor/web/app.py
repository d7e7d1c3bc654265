"""The web app: the dashboard (routers in distributor.web.pages), the public unsubscribe
endpoints, and the JSON API."""

# No "from __future__ import annotations" here: FastAPI resolves the dependency aliases
# defined inside create_app() from the live annotations.

from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, HTTPException, Query
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from distributor import approval, articles, delivery, services
from distributor.config import Settings, get_settings
from distributor.logins import Actor
from distributor.scheduling import parse_local_datetime
from distributor.storage import tables as t
from distributor.storage.tables import utcnow
from distributor.subscribers import SubscriberError, unsubscribe
from distributor.unsubscribe import InvalidToken, read_token
from distributor.web import auth, errors
from distributor.web.pages import audit, channels, inbox, ops, review, subscribers, users
from distributor.web.pages.common import ArticleId, OptionalId

Limit = Annotated[int, Query(ge=1, le=1000, description="At most this many rows.")]
Offset = Annotated[int, Query(ge=0, le=10_000_000)]

PAGES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
)


class DecisionIn(BaseModel):
    channels: list[str] | None = Field(
        default=None, description="Only these channels (default: all)."
    )
    comment: str = ""


class ScheduleIn(BaseModel):
    when: Literal["policy", "now", "at", "slot"] = "policy"
    at: str | None = Field(
        default=None, description="Local time, e.g. 2026-11-29 09:00, with when=at."
    )
    channels: list[str] | None = None


def page(name: str, **context: Any) -> HTMLResponse:
    return HTMLResponse(PAGES.get_template(name).render(**context))


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    db = services.database(settings)
    app = FastAPI(
        title="distributor",
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.db = db
    errors.install(app)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    app.include_router(auth.router)
    for router in (inbox, review, ops, channels, subscribers, audit, users):
        app.include_router(router.router)

    def session_dep() -> Any:
        with db.session() as session:
            yield session

    SessionDep = Annotated[Session, Depends(session_dep)]

    def api_user(session: SessionDep, actor: Annotated[Actor, Depends(auth.api_actor)]) -> t.User:
        # A Bearer token, or the dashboard's session cookie with the CSRF header.
        user = session.get(t.User, actor.id)
        if user is None:
            raise HTTPException(401, "this user no longer exists")
        return user

    UserDep = Annotated[t.User, Depends(api_user)]

    # Refusals (403, 404, 422…) are answered by distributor.web.errors: JSON under /api/.

    # -- pages: the dashboard lives in distributor.web.pages ---------------------------------

    # -- unsubscribe (RFC 8058): GET asks, POST acts; no session, no CSRF, signed token only --

    def _list_name(session: Session, list_id: int) -> str:
        found = session.get(t.MailingList, list_id)
        return found.name if found else "this list"

    @app.get("/u/{token}", response_class=HTMLResponse, include_in_schema=False)
    def unsubscribe_confirm(token: str, session: SessionDep) -> HTMLResponse:
        try:
            target = read_token(settings.secret_key.get_secret_value(), token)
        except InvalidToken as error:
            return _bad_link(str(error))
        name = _list_name(session, target.list_id)
        return page(
            "unsubscribe.html",
            heading="Unsubscribe?",
            list_name=name,
            show_form=True,
            action=f"/u/{token}",
            message=f"Press the button to stop receiving {name}.",
        )

    @app.get("/preferences/{token}", response_class=HTMLResponse, include_in_schema=False)
    def preferences(token: str, session: SessionDep) -> HTMLResponse:
        return unsubscribe_confirm(token, session)

    @app.post("/u/{token}", response_class=HTMLResponse, include_in_schema=False)
    def unsubscribe_post(token: str, session: SessionDep) -> HTMLResponse:
        try:
            target = read_token(settings.secret_key.get_secret_value(), token)
            unsubscribe(session, target, via="one-click")
        except (InvalidToken, SubscriberError) as error:
            return _bad_link(str(error))
        name = _list_name(session, target.list_id)
        return page(
            "unsubscribe.html",
            heading="You are unsubscribed",
            list_name=name,
            show_form=False,
            action="",
            message=f"You will not receive {name} any more.",
        )

    def _bad_link(message: str) -> HTMLResponse:
        response = page(
            "unsubscribe.html",
            heading="This link does not work",
            list_name="",
            show_form=False,
            action="",
            message=message,
        )
        response.status_code = 400
        return response

    # -- JSON API ------------------------------------------------------------------------

    @app.get("/api/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/api/articles")
    def api_articles(
        session: SessionDep, user: UserDep, limit: Limit = 50, offset: Offset = 0
    ) -> list[dict[str, Any]]:
        rows = session.scalars(
            select(t.Article).order_by(t.Article.id.desc()).limit(min(limit, 500)).offset(offset)
        ).all()
        return [
            {
                "id": r.id,
                "title": r.title,
                "url": r.url,
                "version": r.version,
                "deliveries": delivery.counts_by_state(session, r.id),
            }
            for r in rows
        ]

    @app.get("/api/articles/{article_id}")
    def api_article(article_id: ArticleId, session: SessionDep, user: UserDep) -> dict[str, Any]:
        return article_view(session, article_id)

    def decide(
        article_id: int, body: DecisionIn, session: Session, user: t.User, decision: str
    ) -> list[dict[str, str]]:
        from distributor.review import decide as decide_with_comment

        made = decide_with_comment(
            session, article_id, user, decision, channels=body.channels, comment=body.comment
        )
        return [
            {"channel": d.channel, "decision": d.decision, "content_hash": d.content_hash}
            for d in made
        ]

    @app.post("/api/articles/{article_id}/approve")
    def api_approve(
        article_id: ArticleId, body: DecisionIn, session: SessionDep, user: UserDep
    ) -> list[dict[str, str]]:
        """Approve the article's renditions (all, or ``channels``) in their current form."""
        return decide(article_id, body, session, user, "approve")

    @app.post("/api/articles/{article_id}/reject")
    def api_reject(
        article_id: ArticleId, body: DecisionIn, session: SessionDep, user: UserDep
    ) -> list[dict[str, str]]:
        """Reject the article's renditions (all, or ``channels``); they will not be sent."""
        return decide(article_id, body, session, user, "reject")

    @app.post("/api/articles/{article_id}/schedule")
    def api_schedule(
        article_id: ArticleId, body: ScheduleIn, session: SessionDep, user: UserDep
    ) -> list[dict[str, Any]]:
        from distributor.scheduler import schedule_article

        zone = services.zone(settings)
        moment = parse_local_datetime(body.at, zone) if body.at else None
        row = articles.get_article(session, article_id)
        planned = schedule_article(
            session,
            row,
            user,
            when=body.when,
            at=moment,
            zone=zone,
            now=utcnow(),
            channel_names=body.channels,
        )
        return [
            {
                "channel": p.channel,
                "deliveries": p.deliveries,
                "not_before": p.not_before.isoformat(),
                "not_after": p.not_after.isoformat(),
            }
            for p in planned
        ]

    @app.get("/api/deliveries")
    def api_deliveries(
        session: SessionDep,
        user: UserDep,
        article_id: OptionalId = None,
        state: str | None = None,
        limit: Limit = 200,
    ) -> list[dict[str, Any]]:
        from distributor.sending import list_deliveries

        return [
            delivery_view(d)
            for d in list_deliveries(
                session, article_id=article_id, state=state, limit=min(limit, 1000)
            )
        ]

    return app


def delivery_view(d: t.Delivery) -> dict[str, Any]:
    return {
        "id": d.id,
        "article_id": d.article_id,
        "channel_id": d.channel_id,
        "target": d.target,
        "state": d.state,
        "attempts": d.attempts,
        "not_before": d.not_before.isoformat(),
        "not_after": d.not_after.isoformat() if d.not_after else None,
        "remote_id": d.remote_id,
        "remote_url": d.remote_url,
        "last_error": d.last_error,
    }


def article_view(session: Session, article_id: int) -> dict[str, Any]:
    row = articles.get_article(session, article_id)
    names = dict(session.execute(select(t.Channel.id, t.Channel.name)).all())
    renditions = []
    for rendition, channel in session.execute(
        select(t.Rendition, t.Channel)
        .join(t.Channel, t.Channel.id == t.Rendition.channel_id)
        .where(t.Rendition.article_id == row.id)
        .order_by(t.Channel.id)
    ).all():
        decision = approval.current_decision(session, rendition)
        renditions.append(
            {
                "rendition_id": rendition.id,
                "channel": channel.name,
                "kind": channel.kind,
                "content_hash": rendition.content_hash,
                "error": rendition.error,
                "status": (decision.decision + "d") if decision else "awaiting review",
                "payload": rendition.payload or {},
            }
        )
    from distributor.sending import list_deliveries

    deliveries = [
        {**delivery_view(d), "channel": names.get(d.channel_id)}
        for d in list_deliveries(session, article_id=row.id, limit=100)
    ]
    return {
        "id": row.id,
        "title": row.title,
        "url": row.url,
        "version": row.version,
        "renditions": renditions,
        "deliveries": deliveries,
    }
