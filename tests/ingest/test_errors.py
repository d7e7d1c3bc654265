from __future__ import annotations

from distributor.ingest.errors import IngestError


def test_an_error_reads_as_place_then_problem() -> None:
    error = IngestError("no title", "feed item 2")

    assert str(error) == "feed item 2: no title"
    assert error.message == "no title"
    assert error.where == "feed item 2"
    assert isinstance(error, ValueError)


def test_an_error_without_a_place_is_just_the_problem() -> None:
    assert str(IngestError("the document is empty")) == "the document is empty"


def test_an_error_can_be_placed_inside_a_larger_source() -> None:
    error = IngestError("no link", "feed item 3").within("news.rss")

    assert str(error) == "news.rss, feed item 3: no link"
