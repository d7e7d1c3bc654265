"""What the Facebook and Threads fakes share of Meta's Graph API (platform-apis.md §5, §6):
its error body and its cursor paging."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

T = TypeVar("T")


def graph_error(
    message: str,
    *,
    code: int,
    type_: str = "OAuthException",
    subcode: int | None = None,
    user_title: str | None = None,
    user_msg: str | None = None,
) -> dict[str, Any]:
    error: dict[str, Any] = {
        "message": message,
        "type": type_,
        "code": code,
        "fbtrace_id": secrets.token_urlsafe(8),
    }
    if subcode is not None:
        error["error_subcode"] = subcode
    if user_title:
        error["error_user_title"] = user_title
    if user_msg:
        error["error_user_msg"] = user_msg
    return {"error": error}


def graph_page(
    items: Sequence[T],
    params: dict[str, str],
    *,
    created: Callable[[T], datetime],
    as_graph: Callable[[T], dict[str, Any]],
    next_url: str | None = None,
) -> dict[str, Any]:
    """One page of ``items`` (newest first) created at or after ``since``, from the ``after``
    cursor, ``limit`` long (at most 100); with ``paging.next`` when ``next_url`` is given and
    more remain."""
    since = int(params.get("since") or 0)
    limit = min(int(params.get("limit") or 25), 100)
    start = int(params.get("after") or 0)
    visible = [item for item in items if created(item).timestamp() >= since]
    page = visible[start : start + limit]
    body: dict[str, Any] = {"data": [as_graph(item) for item in page]}
    if page:
        body["paging"] = {"cursors": {"before": str(start), "after": str(start + len(page))}}
        if next_url is not None and start + len(page) < len(visible):
            body["paging"]["next"] = f"{next_url}?after={start + limit}"
    return body
