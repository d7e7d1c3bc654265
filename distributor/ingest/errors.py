"""The one error ingestion raises: what is wrong, and where in the input a person should look."""

from __future__ import annotations


class IngestError(ValueError):
    """Input that cannot become an article.

    ``where`` points into the input in words a person can follow ("line 7", "feed item 2
    <guid>", "JSON item 1, field 'title'"); ``message`` says what is wrong there.
    """

    def __init__(self, message: str, where: str = "") -> None:
        super().__init__(message, where)
        self.message = message
        self.where = where

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message

    def within(self, outer: str) -> IngestError:
        """The same error placed inside a larger input (a file, a URL, a batch)."""
        where = f"{outer}, {self.where}" if self.where else outer
        return IngestError(self.message, where)
