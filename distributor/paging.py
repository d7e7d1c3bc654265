"""Pages of long lists: every listing in the dashboard and the API is cut into pages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

MAX_PER_PAGE = 200


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


def bounds(page: int, per_page: int) -> tuple[int, int]:
    """A sane (page, per_page): page from 1, at most ``MAX_PER_PAGE`` rows."""
    return max(1, page), min(max(1, per_page), MAX_PER_PAGE)
