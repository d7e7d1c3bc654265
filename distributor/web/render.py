"""Server-rendered pages: one autoescaped Jinja environment, times in the organisation's
zone, and the security headers every dashboard page carries."""

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from distributor.logins import Actor

TEMPLATES = Path(__file__).parent / "templates"

PAGES = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
)

# Our own pages load only our own files; the email preview is framed, from our origin only.
PAGE_CSP = (
    "default-src 'self'; img-src 'self' https: http: data:; style-src 'self'; script-src 'self'; "
    "frame-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": PAGE_CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

STATUS_LABELS = {
    "awaiting": "awaiting review",
    "approved": "approved",
    "rejected": "rejected",
    "render_error": "render error",
    "scheduled": "scheduled",
    "sending": "sending",
    "sent": "sent",
    "failed": "failed",
    "unknown": "unknown: needs a decision",
    "expired": "expired",
    "cancelled": "cancelled",
}


def local_time(value: datetime | None, zone: ZoneInfo) -> str:
    if value is None:
        return ""
    return value.astimezone(zone).strftime("%a %d %b %Y, %H:%M %Z")


def page(
    request: Request,
    template: str,
    *,
    actor: Actor | None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    settings = request.app.state.settings
    zone = ZoneInfo(settings.org_timezone)
    html = PAGES.get_template(template).render(
        actor=actor,
        csrf_token=actor.csrf_token if actor else "",
        zone=settings.org_timezone,
        org_name=settings.org_name,
        local=lambda value: local_time(value, zone),
        status_label=lambda key: STATUS_LABELS.get(key, key),
        path=request.url.path,
        notice=request.query_params.get("notice", "")[:300],
        query=lambda **changes: _query(request.query_params, changes),
        **context,
    )
    return HTMLResponse(html, status_code=status_code, headers=SECURITY_HEADERS)


def _query(current: Mapping[str, str], changes: dict[str, Any]) -> str:
    merged = {k: v for k, v in current.items() if k != "notice"}
    for key, value in changes.items():
        if value in (None, ""):
            merged.pop(key, None)
        else:
            merged[key] = str(value)
    return "?" + urlencode(merged) if merged else "?"


def done(url: str, notice: str) -> RedirectResponse:
    """After a successful form post: back to a page, with a line saying what happened."""
    path, _, fragment = url.partition("#")
    separator = "&" if "?" in path else "?"
    target = f"{path}{separator}{urlencode({'notice': notice})}"
    return RedirectResponse(target + (f"#{fragment}" if fragment else ""), status_code=303)
