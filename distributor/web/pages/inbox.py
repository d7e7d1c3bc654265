"""The inbox: articles newest first with a status per channel; filter by status and channel."""

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from distributor import inbox
from distributor.web.auth import ApiActor, PageActor, db_of
from distributor.web.pages.common import PageNo, PerPage, ShortText, page_info
from distributor.web.render import page

router = APIRouter()


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def inbox_page(
    request: Request,
    actor: PageActor,
    status: ShortText = None,
    channel: ShortText = None,
    page_no: PageNo = 1,
) -> HTMLResponse:
    from distributor.delivery import is_paused

    with db_of(request).read_session() as session:
        found = inbox.inbox_page(
            session, status=status or None, channel=channel or None, page=page_no, per_page=25
        )
        channels = inbox.channel_names(session)
        paused = is_paused(session)
    return page(
        request,
        "inbox.html",
        actor=actor,
        found=found,
        statuses=inbox.STATUS_FILTERS,
        channels=channels,
        status=status or "",
        channel=channel or "",
        paused=paused,
    )


@router.get("/api/inbox", tags=["review"])
def api_inbox(
    request: Request,
    actor: ApiActor,
    status: ShortText = None,
    channel: ShortText = None,
    page_no: PageNo = 1,
    per_page: PerPage = 25,
) -> dict[str, Any]:
    """Articles newest first, each with a status per channel (times in UTC)."""
    with db_of(request).read_session() as session:
        found = inbox.inbox_page(
            session,
            status=status or None,
            channel=channel or None,
            page=page_no,
            per_page=per_page,
        )
    return {**page_info(found), "articles": [asdict(row) for row in found.items]}
