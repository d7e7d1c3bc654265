"""The one place transport failures become ChannelError, against a real loopback server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from distributor.channels.base import ChannelError
from distributor.channels.transport import call
from distributor.http import make_session
from tests.peers.fakes import FakeServer

SECRET = "bot123456:secret-token"


@pytest.fixture
def plain_http() -> Iterator[str]:
    """An HTTPS URL on a server that speaks plain HTTP: the TLS handshake fails."""
    with FakeServer() as server:
        yield f"https://127.0.0.1:{server.port}/bot{SECRET}/sendMessage"


def _fail(url: str, *, secrets: tuple[str, ...] = (), tls_is_reset: bool = False) -> ChannelError:
    """What a send (``after_send``) to ``url`` raises."""
    http = make_session(timeout=2.0, allow_private=True)
    with pytest.raises(ChannelError) as caught:
        call(
            http,
            "POST",
            url,
            target="Platform",
            after_send=True,
            secrets=secrets,
            tls_failure_is_reset=tls_is_reset,
        )
    return caught.value


def test_a_tls_failure_is_an_unreachable_host_that_never_got_the_request(plain_http: str) -> None:
    error = _fail(plain_http)

    assert error.message.startswith("cannot reach Platform: ")
    assert not error.ambiguous and not error.permanent
    assert error.retry_after == 30


def test_a_tls_failure_counted_as_a_reset_may_have_carried_the_request(plain_http: str) -> None:
    error = _fail(plain_http, tls_is_reset=True)

    assert error.message.startswith("connection to Platform failed: ")
    assert error.ambiguous, "the platform may have acted on it"


def test_secrets_are_blanked_and_the_exception_holding_the_url_is_not_chained(
    plain_http: str,
) -> None:
    error = _fail(plain_http, secrets=(SECRET,))

    assert SECRET not in error.message
    assert "[redacted]" in error.message
    assert error.__cause__ is None and error.__suppress_context__


def test_without_secrets_the_requests_exception_is_the_cause(plain_http: str) -> None:
    error = _fail(plain_http)

    assert isinstance(error.__cause__, requests.exceptions.SSLError)
