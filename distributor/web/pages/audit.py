"""The audit log: append-only, newest first, filtered by article and user."""

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from distributor import audit
from distributor.audit import AuditRow
from distributor.logins import Actor
from distributor.paging import Page
from distributor.web.auth import ApiActor, PageActor, db_of, user_row
from distributor.web.pages.common import OptionalId, PageNo, PerPage, ShortText, page_info
from distributor.web.render import page

router = APIRouter()


@router.get("/audit", response_class=HTMLResponse, include_in_schema=False)
def audit_page(
    request: Request,
    actor: PageActor,
    article: OptionalId = None,
    user: ShortText = None,
    action: ShortText = None,
    page_no: PageNo = 1,
) -> HTMLResponse:
    found = _events(request, actor, article, user, action, page=page_no)
    return page(
        request,
        "audit.html",
        actor=actor,
        found=found,
        article=article or "",
        user=user or "",
        action=action or "",
    )


@router.get("/api/audit", tags=["audit"])
def api_audit(
    request: Request,
    actor: ApiActor,
    article: OptionalId = None,
    user: ShortText = None,
    action: ShortText = None,
    page_no: PageNo = 1,
    per_page: PerPage = 50,
) -> dict[str, Any]:
    """Who did what, newest first: approvals with the rendition hash, edits, sends, logins…"""
    found = _events(request, actor, article, user, action, page=page_no, per_page=per_page)
    return {**page_info(found), "events": [asdict(e) for e in found.items]}


def _events(
    request: Request,
    actor: Actor,
    article: int | None,
    user: str | None,
    action: str | None,
    **paging: int,
) -> Page[AuditRow]:
    with db_of(request).read_session() as session:
        return audit.audit_page(
            session,
            user_row(session, actor),
            article_id=article,
            user_email=user or None,
            action=action or None,
            **paging,
        )
