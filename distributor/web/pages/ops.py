"""The operations view: deliveries with state and attempts; cancel, retry, resolve, pause."""

from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field

from distributor import delivery, ops
from distributor.domain import DeliveryState
from distributor.storage.tables import utcnow
from distributor.web.auth import ApiActor, FormActor, PageActor, db_of, user_row
from distributor.web.pages.common import (
    ArticleId,
    DeliveryId,
    OptionalId,
    PageNo,
    PerPage,
    ShortText,
    page_info,
)
from distributor.web.render import done, page

router = APIRouter()


class ResolveIn(BaseModel):
    sent: bool = Field(description="true: it went out (give its URL); false: send it again")
    url: str | None = Field(default=None, max_length=2000)


class PauseIn(BaseModel):
    paused: bool


class ScopeIn(BaseModel):
    channel_id: int | None = Field(default=None, ge=1, le=2_147_483_647)


def _back(request: Request) -> str:
    referer = request.headers.get("referer", "")
    return "/ops" if "/ops" not in referer else "/ops" + referer.split("/ops", 1)[1].split("#")[0]


@router.get("/ops", response_class=HTMLResponse, include_in_schema=False)
def ops_page(
    request: Request,
    actor: PageActor,
    state: ShortText = None,
    channel: ShortText = None,
    article: OptionalId = None,
    page_no: PageNo = 1,
) -> HTMLResponse:
    from distributor.inbox import channel_names

    with db_of(request).read_session() as session:
        found = ops.deliveries_page(
            session, state=state or None, channel=channel or None, article_id=article, page=page_no
        )
        paused = delivery.is_paused(session)
        channels = channel_names(session)
    return page(
        request,
        "ops.html",
        actor=actor,
        found=found,
        paused=paused,
        states=[s.value for s in DeliveryState],
        channels=channels,
        state=state or "",
        channel=channel or "",
        article=article or "",
    )


@router.post("/ops/pause", include_in_schema=False)
def pause_form(
    request: Request, actor: FormActor, paused: Annotated[Literal["1", "0"], Form()]
) -> Response:
    with db_of(request).session() as session:
        ops.set_paused(session, user_row(session, actor), paused == "1")
    return done("/ops", "All sending is paused." if paused == "1" else "Sending resumed.")


@router.post("/ops/deliveries/{delivery_id}/{action}", include_in_schema=False)
def delivery_form(
    request: Request,
    delivery_id: DeliveryId,
    action: Literal["cancel", "retry", "resolve"],
    actor: FormActor,
    sent: Annotated[Literal["yes", "no"], Form()] = "no",
    url: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    message = _act(request, actor, action, delivery_id=delivery_id, sent=sent == "yes", url=url)
    return done(_back(request), message)


@router.post("/ops/articles/{article_id}/{action}", include_in_schema=False)
def article_form(
    request: Request,
    article_id: ArticleId,
    action: Literal["cancel", "retry"],
    actor: FormActor,
    channel_id: Annotated[int | None, Form(ge=1, le=2_147_483_647)] = None,
) -> Response:
    message = _act(request, actor, action, article_id=article_id, channel_id=channel_id)
    return done(_back(request), message)


def _act(
    request: Request,
    actor: Any,
    action: str,
    *,
    delivery_id: int | None = None,
    article_id: int | None = None,
    channel_id: int | None = None,
    sent: bool = False,
    url: str = "",
) -> str:
    now = utcnow()
    with db_of(request).session() as session:
        user = user_row(session, actor)
        if action == "resolve":
            assert delivery_id is not None
            ops.resolve(session, user, delivery_id, sent=sent, remote_url=url, now=now)
            return (
                f"Delivery {delivery_id} marked as sent."
                if sent
                else f"Delivery {delivery_id} will be sent again."
            )
        if action == "cancel":
            count = ops.cancel(
                session,
                user,
                now=now,
                delivery_id=delivery_id,
                article_id=article_id,
                channel_id=channel_id,
            )
            return f"Cancelled {count} scheduled send{'s' if count != 1 else ''}."
        count = ops.retry(
            session,
            user,
            now=now,
            delivery_id=delivery_id,
            article_id=article_id,
            channel_id=channel_id,
        )
        return f"{count} send{'s' if count != 1 else ''} will be tried again now."


# -- JSON twins ----------------------------------------------------------------------------


@router.get("/api/ops/deliveries", tags=["operations"])
def api_deliveries_page(
    request: Request,
    actor: ApiActor,
    state: ShortText = None,
    channel: ShortText = None,
    article: OptionalId = None,
    page_no: PageNo = 1,
    per_page: PerPage = 50,
) -> dict[str, Any]:
    """Deliveries newest first, with state, attempts and the last error."""
    with db_of(request).read_session() as session:
        found = ops.deliveries_page(
            session,
            state=state or None,
            channel=channel or None,
            article_id=article,
            page=page_no,
            per_page=per_page,
        )
    return {**page_info(found), "deliveries": [asdict(d) for d in found.items]}


@router.post("/api/deliveries/{delivery_id}/cancel", tags=["operations"])
def api_cancel(request: Request, delivery_id: DeliveryId, actor: ApiActor) -> dict[str, str]:
    """Cancel a scheduled send that has not started."""
    return {"detail": _act(request, actor, "cancel", delivery_id=delivery_id)}


@router.post("/api/deliveries/{delivery_id}/retry", tags=["operations"])
def api_retry(request: Request, delivery_id: DeliveryId, actor: ApiActor) -> dict[str, str]:
    """Send a failed, expired or cancelled delivery again, from now."""
    return {"detail": _act(request, actor, "retry", delivery_id=delivery_id)}


@router.post("/api/deliveries/{delivery_id}/resolve", tags=["operations"])
def api_resolve(
    request: Request, delivery_id: DeliveryId, body: ResolveIn, actor: ApiActor
) -> dict[str, str]:
    """Decide an ``unknown`` outcome: it went out (with its URL), or send it again."""
    return {
        "detail": _act(
            request, actor, "resolve", delivery_id=delivery_id, sent=body.sent, url=body.url or ""
        )
    }


@router.post("/api/articles/{article_id}/cancel", tags=["operations"])
def api_cancel_article(
    request: Request, article_id: ArticleId, body: ScopeIn, actor: ApiActor
) -> dict[str, str]:
    """Cancel every scheduled send of an article (or of one of its channels)."""
    return {
        "detail": _act(request, actor, "cancel", article_id=article_id, channel_id=body.channel_id)
    }


@router.get("/api/pause", tags=["operations"])
def api_pause_state(request: Request, actor: ApiActor) -> dict[str, bool]:
    with db_of(request).read_session() as session:
        return {"paused": delivery.is_paused(session)}


@router.post("/api/pause", tags=["operations"])
def api_pause(request: Request, body: PauseIn, actor: ApiActor) -> dict[str, bool]:
    """The global kill switch: while paused, the dispatcher and the guard send nothing."""
    with db_of(request).session() as session:
        ops.set_paused(session, user_row(session, actor), body.paused)
    return {"paused": body.paused}
