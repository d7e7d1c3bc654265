"""The JSON API fuzzed from its own OpenAPI document (schemathesis): whatever a client sends
within or outside the schema, the answer is never a server error."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from distributor import accounts
from distributor.storage import Database
from distributor.web.app import create_app
from tests.factories import seed_setup, settings_for

# Built at import: schemathesis parametrizes the test from the schema at collection time.
_WORKDIR = Path(tempfile.mkdtemp(prefix="distributor-fuzz-"))
_DB = Database(f"sqlite:///{_WORKDIR / 'fuzz.db'}")
_DB.migrate()
_SETUP = seed_setup(_DB, settings_for(_DB.url, _WORKDIR))
with _DB.session() as _session:
    _, TOKEN = accounts.add_user(
        _session, "fuzz@ishr.example", name="Fuzz", role="admin", password=None
    )

schema = schemathesis.openapi.from_asgi("/api/openapi.json", create_app(_SETUP.settings))


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_request_makes_the_api_fail_with_a_server_error(case: Any) -> None:
    case.call_and_validate(
        headers={"Authorization": f"Bearer {TOKEN}"}, checks=[not_a_server_error]
    )
