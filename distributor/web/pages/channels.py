"""Connected channels: status, token expiry, and a "test connection" button."""

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from distributor import channel_health
from distributor.storage.tables import utcnow
from distributor.web.auth import ApiActor, FormActor, PageActor, db_of, settings_of
from distributor.web.pages.common import ChannelId
from distributor.web.render import done, page

router = APIRouter()


@router.get("/channels", response_class=HTMLResponse, include_in_schema=False)
def channels_page(request: Request, actor: PageActor) -> HTMLResponse:
    with db_of(request).read_session() as session:
        channels = channel_health.list_channels(
            session, now=utcnow(), warn_days=_warn_days(request)
        )
    return page(request, "channels.html", actor=actor, channels=channels)


def _warn_days(request: Request) -> int | None:
    # The daily token check's horizon, when this version of the settings has one.
    days = getattr(settings_of(request), "token_warning_days", None)
    return days if isinstance(days, int) else None


def _check(request: Request, actor: Any, channel_id: int) -> channel_health.CheckResult:
    return channel_health.check_channel(db_of(request), channel_id, actor.id, settings_of(request))


@router.post("/channels/{channel_id}/check", include_in_schema=False)
def check_form(request: Request, channel_id: ChannelId, actor: FormActor) -> Response:
    result = _check(request, actor, channel_id)
    verdict = "Connection works" if result.ok else "Connection failed"
    return done("/channels", f"{verdict}: {result.detail}")


@router.get("/api/channels", tags=["channels"])
def api_channels(request: Request, actor: ApiActor) -> list[dict[str, Any]]:
    """Connected channels with status and token expiry (and a warning ahead of it)."""
    with db_of(request).read_session() as session:
        return [
            asdict(c)
            for c in channel_health.list_channels(
                session, now=utcnow(), warn_days=_warn_days(request)
            )
        ]


@router.post("/api/channels/{channel_id}/check", tags=["channels"])
def api_check(request: Request, channel_id: ChannelId, actor: ApiActor) -> dict[str, Any]:
    """Test the connection without posting anything."""
    return asdict(_check(request, actor, channel_id))
