"""The fake-server base: routing, the request log, injected faults."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from tests.peers.fakes import FakeServer, Reply, Request, route


class Echo(FakeServer):
    def __init__(self) -> None:
        super().__init__()
        self.created: list[str] = []

    @route("POST", "/things/{name}")
    def create(self, request: Request, name: str) -> Reply:
        with self.lock:
            self.created.append(name)
        return Reply(201, {"name": name, "body": request.json()}, {"X-Thing": name})

    @route("POST", "/form")
    def form(self, request: Request) -> Reply:
        return Reply(200, request.form())

    @route("POST", "/upload")
    def upload(self, request: Request) -> Reply:
        return Reply(200, {k: v.decode() for k, v in request.multipart().items()})


@pytest.fixture
def echo() -> Iterator[Echo]:
    with Echo() as server:
        yield server


def test_routes_by_method_and_path_and_records_every_request(echo: Echo) -> None:
    response = requests.post(f"{echo.url}/things/a?x=1", json={"k": 1}, timeout=5)
    assert response.status_code == 201
    assert response.json() == {"name": "a", "body": {"k": 1}}
    assert response.headers["X-Thing"] == "a"
    assert requests.get(f"{echo.url}/things/a", timeout=5).status_code == 405
    assert requests.get(f"{echo.url}/nowhere", timeout=5).status_code == 404
    assert [r.path for r in echo.calls("POST", "/things/.*")] == ["/things/a"]
    assert echo.requests[0].arg("x") == "1"


def test_parses_form_and_multipart_bodies(echo: Echo) -> None:
    assert requests.post(f"{echo.url}/form", data={"a": "b"}, timeout=5).json() == {"a": "b"}
    files = {"media": ("x.png", b"PNG", "image/png")}
    got = requests.post(f"{echo.url}/upload", files=files, data={"c": "d"}, timeout=5).json()
    assert got == {"media": "PNG", "c": "d"}


def test_a_fault_answers_instead_of_the_handler_the_given_number_of_times(echo: Echo) -> None:
    echo.fail(503, {"err": "busy"}, headers={"Retry-After": "3"}, path="/things/.*", times=2)
    for _ in range(2):
        response = requests.post(f"{echo.url}/things/b", json={}, timeout=5)
        assert (response.status_code, response.headers["Retry-After"]) == (503, "3")
    assert echo.created == []
    assert requests.post(f"{echo.url}/things/b", json={}, timeout=5).status_code == 201
    assert echo.created == ["b"]


def test_hang_after_accept_makes_the_effect_then_times_the_client_out(echo: Echo) -> None:
    echo.hang_after_accept(method="POST", path="/things/.*", seconds=10)
    with pytest.raises(requests.Timeout):
        requests.post(f"{echo.url}/things/c", json={}, timeout=0.3)
    assert echo.created == ["c"]
