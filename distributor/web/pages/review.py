"""Reviewing one article: previews, edits, decisions, scheduling, comments, test email.

Every form here has a JSON twin under /api/; both call the same service."""

from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field

from distributor import comments, review, services
from distributor.logins import Actor
from distributor.rendering.text import MEASURES, measure
from distributor.scheduler import schedule_article
from distributor.scheduling import parse_local_datetime
from distributor.storage import tables as t
from distributor.storage.tables import utcnow
from distributor.testmail import send_test_email
from distributor.web.auth import ApiActor, FormActor, PageActor, db_of, settings_of, user_row
from distributor.web.pages.common import ArticleId, RenditionId
from distributor.web.render import done, page

router = APIRouter()

# The email preview runs no script and loads nothing from our origin; only our pages frame it.
EMAIL_PREVIEW_CSP = (
    "sandbox; default-src 'none'; img-src https: data:; style-src 'unsafe-inline'; "
    "frame-ancestors 'self'"
)

Text = Annotated[str | None, Form(max_length=10_000)]


class EditIn(BaseModel):
    text: str | None = Field(default=None, max_length=10_000, description="A post's new text.")
    thread: list[Annotated[str, Field(max_length=10_000)]] | None = Field(
        default=None, max_length=20, description="A post's replies, in order; empty ones dropped."
    )
    subject: str | None = Field(default=None, max_length=500)
    preheader: str | None = Field(default=None, max_length=500)


class CommentIn(BaseModel):
    body: str = Field(max_length=5000)


class MeasureIn(BaseModel):
    platform: str = Field(max_length=30, description="mastodon, bluesky or outbox")
    text: str = Field(max_length=10_000)


def _changes(
    text: str | None,
    subject: str | None,
    preheader: str | None,
    thread: list[str] | None = None,
) -> dict[str, Any]:
    changes: dict[str, Any] = {
        k: v
        for k, v in (("text", text), ("subject", subject), ("preheader", preheader))
        if v is not None
    }
    if thread is not None:
        changes["thread"] = thread
    if not changes:
        raise HTTPException(422, "nothing to change: give a text, a subject or a preheader")
    return changes


def _edit(
    request: Request, actor: Any, article_id: int, rendition_id: int, changes: dict[str, Any]
) -> dict[str, Any]:
    with db_of(request).session() as session:
        rendition = review.rendition_of(session, article_id, rendition_id)
        services.edit_rendition(
            session, rendition, user_row(session, actor), changes, settings_of(request)
        )
        payload = rendition.payload or {}
        return {
            "rendition_id": rendition.id,
            "content_hash": rendition.content_hash,
            "length": payload.get("length"),
            "limit": payload.get("limit"),
            "approval": "voided: approve the new text again",
        }


# -- pages ---------------------------------------------------------------------------------


@router.get("/articles/{article_id}", response_class=HTMLResponse, include_in_schema=False)
def review_page(request: Request, article_id: ArticleId, actor: PageActor) -> HTMLResponse:
    with db_of(request).read_session() as session:
        data = review.review_of(session, article_id)
    return page(request, "review.html", actor=actor, article=data, measures=MEASURES)


@router.get("/articles/{article_id}/renditions/{rendition_id}/email", include_in_schema=False)
def email_preview(
    request: Request, article_id: ArticleId, rendition_id: RenditionId, actor: PageActor
) -> Response:
    with db_of(request).read_session() as session:
        rendition = review.rendition_of(session, article_id, rendition_id)
        html = (rendition.payload or {}).get("html")
    if not html:
        raise HTTPException(404, "this rendition has no email to preview")
    return HTMLResponse(
        html,
        headers={
            "Content-Security-Policy": EMAIL_PREVIEW_CSP,
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
        },
    )


@router.post("/articles/{article_id}/approve", include_in_schema=False)
def approve_form(
    request: Request,
    article_id: ArticleId,
    actor: FormActor,
    channel: Annotated[str, Form(max_length=100)] = "",
    comment: Annotated[str, Form(max_length=5000)] = "",
) -> Response:
    return _decide(request, actor, article_id, "approve", channel, comment)


@router.post("/articles/{article_id}/reject", include_in_schema=False)
def reject_form(
    request: Request,
    article_id: ArticleId,
    actor: FormActor,
    channel: Annotated[str, Form(max_length=100)] = "",
    comment: Annotated[str, Form(max_length=5000)] = "",
) -> Response:
    return _decide(request, actor, article_id, "reject", channel, comment)


def _decide(
    request: Request,
    actor: Actor,
    article_id: int,
    decision: Literal["approve", "reject"],
    channel: str,
    comment: str,
) -> Response:
    """A decision for every channel, or for the one named; a rejection needs a comment."""
    with db_of(request).session() as session:
        review.decide(
            session,
            article_id,
            user_row(session, actor),
            decision,
            channels=[channel] if channel else None,
            comment=comment,
            require_comment=decision == "reject",
        )
    decided = "Approved" if decision == "approve" else "Rejected"
    return done(f"/articles/{article_id}", f"{decided} {channel or 'all channels'}.")


@router.post("/articles/{article_id}/schedule", include_in_schema=False)
def schedule_form(
    request: Request,
    article_id: ArticleId,
    actor: FormActor,
    when: Annotated[Literal["now", "at", "slot", "policy"], Form()] = "now",
    at: Annotated[str, Form(max_length=40)] = "",
    channel: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    planned = _schedule(
        request, actor, article_id, when, at or None, [channel] if channel else None
    )
    return done(
        f"/articles/{article_id}",
        "Scheduled: " + ", ".join(f"{p['channel']} ({p['deliveries']})" for p in planned) + ".",
    )


def _schedule(
    request: Request,
    actor: Any,
    article_id: int,
    when: Literal["now", "at", "slot", "policy"],
    at: str | None,
    channels: list[str] | None,
) -> list[dict[str, Any]]:
    from distributor import articles

    settings = settings_of(request)
    zone = services.zone(settings)
    moment = parse_local_datetime(at, zone) if at else None
    with db_of(request).session() as session:
        planned = schedule_article(
            session,
            articles.get_article(session, article_id),
            user_row(session, actor),
            when=when,
            at=moment,
            zone=zone,
            now=utcnow(),
            channel_names=channels,
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


@router.post("/articles/{article_id}/renditions/{rendition_id}/edit", include_in_schema=False)
def edit_form(
    request: Request,
    article_id: ArticleId,
    rendition_id: RenditionId,
    actor: FormActor,
    text: Text = None,
    subject: Annotated[str | None, Form(max_length=500)] = None,
    preheader: Annotated[str | None, Form(max_length=500)] = None,
    thread: Annotated[list[str] | None, Form(max_length=10_000)] = None,
) -> Response:
    _edit(request, actor, article_id, rendition_id, _changes(text, subject, preheader, thread))
    return done(
        f"/articles/{article_id}#r{rendition_id}",
        "Saved. Any earlier approval of this text is void: approve it again.",
    )


@router.post("/articles/{article_id}/comments", include_in_schema=False)
def comment_form(
    request: Request,
    article_id: ArticleId,
    actor: FormActor,
    body: Annotated[str, Form(max_length=5000)],
) -> Response:
    with db_of(request).session() as session:
        comments.add_comment(session, article_id, user_row(session, actor), body)
    return done(f"/articles/{article_id}#comments", "Comment added.")


@router.post("/articles/{article_id}/renditions/{rendition_id}/test-email", include_in_schema=False)
def test_email_form(
    request: Request, article_id: ArticleId, rendition_id: RenditionId, actor: FormActor
) -> Response:
    result = _test_email(request, actor, article_id, rendition_id)
    verdict = "Test email sent" if result["sent"] else "The test email failed"
    return done(f"/articles/{article_id}", f"{verdict}: {result['detail']}")


def _test_email(request: Request, actor: Any, article_id: int, rendition_id: int) -> dict[str, Any]:
    result = send_test_email(
        db_of(request), article_id, rendition_id, actor.id, settings_of(request)
    )
    return asdict(result)


# -- JSON twins ----------------------------------------------------------------------------


@router.get("/api/articles/{article_id}/review", tags=["review"])
def api_review(request: Request, article_id: ArticleId, actor: ApiActor) -> dict[str, Any]:
    """Everything the review page shows: renditions, measurements, warnings, comments."""
    with db_of(request).read_session() as session:
        data = review.review_of(session, article_id)
    return asdict(data)


@router.post("/api/articles/{article_id}/renditions/{rendition_id}", tags=["review"])
def api_edit(
    request: Request,
    article_id: ArticleId,
    rendition_id: RenditionId,
    body: EditIn,
    actor: ApiActor,
) -> dict[str, Any]:
    """Edit a post's text, or an email's subject and preheader; voids earlier approvals."""
    changes = _changes(body.text, body.subject, body.preheader, body.thread)
    return _edit(request, actor, article_id, rendition_id, changes)


@router.get("/api/articles/{article_id}/comments", tags=["review"])
def api_comments(request: Request, article_id: ArticleId, actor: ApiActor) -> list[dict[str, Any]]:
    with db_of(request).read_session() as session:
        if session.get(t.Article, article_id) is None:
            raise LookupError(f"no article {article_id}")
        return [asdict(c) for c in comments.thread(session, article_id)]


@router.post("/api/articles/{article_id}/comments", tags=["review"])
def api_add_comment(
    request: Request, article_id: ArticleId, body: CommentIn, actor: ApiActor
) -> dict[str, Any]:
    with db_of(request).session() as session:
        made = comments.add_comment(session, article_id, user_row(session, actor), body.body)
        return {"id": made.id, "body": made.body, "created_at": made.created_at.isoformat()}


@router.post("/api/articles/{article_id}/renditions/{rendition_id}/test-email", tags=["review"])
def api_test_email(
    request: Request, article_id: ArticleId, rendition_id: RenditionId, actor: ApiActor
) -> Response:
    """Send the newsletter to your own address through the channel's transport (audited)."""
    from fastapi.responses import JSONResponse

    result = _test_email(request, actor, article_id, rendition_id)
    return JSONResponse(result, status_code=200 if result["sent"] else 502)


@router.post("/api/measure", tags=["review"])
def api_measure(body: MeasureIn, actor: ApiActor) -> dict[str, Any]:
    """Count a post's text by the platform's own rule (the live counter of the review page)."""
    if body.platform not in MEASURES:
        raise HTTPException(
            422, f"unknown platform {body.platform!r}; known: {', '.join(MEASURES)}"
        )
    return asdict(measure(body.platform, body.text))
