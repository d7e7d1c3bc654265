"""Parameter types shared by the dashboard routers: ids the database can hold, bounded pages."""

from typing import Annotated, Any

from fastapi import Path, Query

from distributor.paging import Page

MAX_ID = 2_147_483_647

ArticleId = Annotated[int, Path(ge=1, le=MAX_ID, description="The article's id.")]
RenditionId = Annotated[int, Path(ge=1, le=MAX_ID, description="The rendition's id.")]
DeliveryId = Annotated[int, Path(ge=1, le=MAX_ID, description="The delivery's id.")]
ChannelId = Annotated[int, Path(ge=1, le=MAX_ID, description="The channel's id.")]
SubscriberId = Annotated[int, Path(ge=1, le=MAX_ID, description="The subscriber's id.")]
ListId = Annotated[int, Path(ge=1, le=MAX_ID, description="The mailing list's id.")]
UserId = Annotated[int, Path(ge=1, le=MAX_ID, description="The user's id.")]
PageNo = Annotated[int, Query(ge=1, le=1_000_000, description="Page number, from 1.")]
PerPage = Annotated[int, Query(ge=1, le=200, description="Rows per page.")]
OptionalId = Annotated[int | None, Query(ge=1, le=MAX_ID)]
ShortText = Annotated[str | None, Query(max_length=200)]


def page_info(page: Page[Any]) -> dict[str, int]:
    return {"page": page.page, "per_page": page.per_page, "pages": page.pages, "total": page.total}
