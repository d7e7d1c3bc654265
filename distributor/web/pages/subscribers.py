"""Subscribers: lists and counts, search, add, unsubscribe, CSV import with a report, export."""

from collections.abc import Iterator
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from pydantic import BaseModel, Field

from distributor import audience
from distributor.web.auth import ApiActor, FormActor, PageActor, db_of, user_row
from distributor.web.pages.common import (
    ListId,
    OptionalId,
    PageNo,
    PerPage,
    ShortText,
    SubscriberId,
    page_info,
)
from distributor.web.render import done, page

router = APIRouter()


class SubscriberIn(BaseModel):
    list_id: int = Field(ge=1, le=2_147_483_647)
    email: str = Field(max_length=320)
    name: str = Field(default="", max_length=200)


class UnsubscribeIn(BaseModel):
    list_id: int = Field(ge=1, le=2_147_483_647)


@router.get("/subscribers", response_class=HTMLResponse, include_in_schema=False)
def subscribers_page(
    request: Request,
    actor: PageActor,
    q: ShortText = None,
    list_id: OptionalId = None,
    page_no: PageNo = 1,
) -> HTMLResponse:
    with db_of(request).read_session() as session:
        lists = audience.lists_with_counts(session)
        found = audience.search(session, query=q or "", list_id=list_id, page=page_no)
    return page(
        request,
        "subscribers.html",
        actor=actor,
        lists=lists,
        found=found,
        q=q or "",
        list_id=list_id or "",
        report=None,
    )


@router.post("/subscribers/add", include_in_schema=False)
def add_form(
    request: Request,
    actor: FormActor,
    list_id: Annotated[int, Form(ge=1, le=2_147_483_647)],
    email: Annotated[str, Form(max_length=320)],
    name: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    with db_of(request).session() as session:
        added = audience.add(session, user_row(session, actor), list_id, email, name)
    return done(
        "/subscribers", f"{email} subscribed." if added else f"{email} was already subscribed."
    )


@router.post("/subscribers/{subscriber_id}/unsubscribe", include_in_schema=False)
def unsubscribe_form(
    request: Request,
    subscriber_id: SubscriberId,
    actor: FormActor,
    list_id: Annotated[int, Form(ge=1, le=2_147_483_647)],
) -> Response:
    with db_of(request).session() as session:
        audience.unsubscribe_by_staff(session, user_row(session, actor), subscriber_id, list_id)
    return done("/subscribers", "Unsubscribed.")


@router.post("/subscribers/import", response_class=HTMLResponse, include_in_schema=False)
async def import_form(
    request: Request,
    actor: FormActor,
    list_id: Annotated[int, Form(ge=1, le=2_147_483_647)],
    file: Annotated[UploadFile, File()],
) -> HTMLResponse:
    data = await file.read(audience.MAX_IMPORT_BYTES + 1)
    with db_of(request).session() as session:
        report = audience.import_file(session, user_row(session, actor), list_id, data)
    with db_of(request).session() as session:
        lists = audience.lists_with_counts(session)
        found = audience.search(session, list_id=list_id)
    return page(
        request,
        "subscribers.html",
        actor=actor,
        lists=lists,
        found=found,
        q="",
        list_id=list_id,
        report=report,
    )


def _export(request: Request, actor: Any, list_id: int) -> StreamingResponse:
    db = db_of(request)
    # Checked (and audited) before streaming starts, so a refusal is a clean 403 or 404.
    with db.session() as session:
        audience.start_export(session, user_row(session, actor), list_id)

    def rows() -> Iterator[str]:
        with db.session() as session:
            yield from audience.export_rows(session, list_id)

    return StreamingResponse(
        rows(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="list-{list_id}.csv"'},
    )


@router.get("/subscribers/export", include_in_schema=False)
def export_page(
    request: Request,
    actor: PageActor,
    list_id: Annotated[int, Query(ge=1, le=2_147_483_647)],
) -> StreamingResponse:
    return _export(request, actor, list_id)


# -- JSON twins ----------------------------------------------------------------------------


@router.get("/api/lists", tags=["subscribers"])
def api_lists(request: Request, actor: ApiActor) -> list[dict[str, Any]]:
    """Mailing lists with their subscribed and unsubscribed counts."""
    with db_of(request).read_session() as session:
        return [asdict(x) for x in audience.lists_with_counts(session)]


@router.get("/api/subscribers", tags=["subscribers"])
def api_subscribers(
    request: Request,
    actor: ApiActor,
    q: ShortText = None,
    list_id: OptionalId = None,
    page_no: PageNo = 1,
    per_page: PerPage = 50,
) -> dict[str, Any]:
    """Search by address or name; paginated."""
    with db_of(request).read_session() as session:
        found = audience.search(
            session, query=q or "", list_id=list_id, page=page_no, per_page=per_page
        )
    return {**page_info(found), "subscribers": [asdict(s) for s in found.items]}


@router.post("/api/subscribers", tags=["subscribers"])
def api_add(request: Request, body: SubscriberIn, actor: ApiActor) -> dict[str, bool]:
    with db_of(request).session() as session:
        added = audience.add(session, user_row(session, actor), body.list_id, body.email, body.name)
    return {"added": added}


@router.post("/api/subscribers/{subscriber_id}/unsubscribe", tags=["subscribers"])
def api_unsubscribe(
    request: Request, subscriber_id: SubscriberId, body: UnsubscribeIn, actor: ApiActor
) -> dict[str, bool]:
    with db_of(request).session() as session:
        changed = audience.unsubscribe_by_staff(
            session, user_row(session, actor), subscriber_id, body.list_id
        )
    return {"unsubscribed": changed}


@router.post("/api/lists/{list_id}/import", tags=["subscribers"])
async def api_import(request: Request, list_id: ListId, actor: ApiActor) -> dict[str, Any]:
    """The request body is CSV text (``email[,name]`` rows); returns the rejected rows."""
    data = await request.body()
    with db_of(request).session() as session:
        report = audience.import_file(session, user_row(session, actor), list_id, data)
    return {
        "added": report.added,
        "already": report.already,
        "rejected": [
            {"line": line, "value": value, "reason": reason}
            for line, value, reason in report.rejected
        ],
    }


@router.get("/api/lists/{list_id}/export", tags=["subscribers"])
def api_export(request: Request, list_id: ListId, actor: ApiActor) -> StreamingResponse:
    """The list as CSV: email, name, status, changed_at."""
    return _export(request, actor, list_id)
