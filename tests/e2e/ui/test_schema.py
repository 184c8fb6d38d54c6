"""The published OpenAPI document exercised by schemathesis against a real server: for
inputs drawn from the schema, no answer is a server error and every answer matches the
response models it declares (status codes, content types, bodies).

Each operation's cases come from schemathesis's hypothesis strategy and are sent with
`call_and_validate`, run per operation inside one test (the server is started by a
fixture, after collection, so the schema cannot parametrize the test at import time)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import positive_data_acceptance

from tests.e2e.ui.conftest import DEMO, Server, _start


@pytest.fixture(scope="module")
def schema_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server of its own: the fuzzed drafts are saved to an intent file no other test
    reads."""
    root = tmp_path_factory.mktemp("ui-schema")
    intents = root / "intents.yaml"
    shutil.copy(DEMO / "intents.yaml", intents)
    yield from _start([str(DEMO), "--intents", str(intents)], intents, DEMO)


def test_api_conforms_to_its_schema(schema_server: Server) -> None:
    schema = schemathesis.openapi.from_url(schema_server.url + "openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/api/graph", "/api/explain", "/api/intents/save"}
    for op in operations:

        @given(case=op.as_strategy())
        @settings(
            max_examples=20,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: schemathesis.Case) -> None:
            # A label filter or a port is a string in the schema, but the grammar the
            # server accepts (kubectl -l, PROTO/PORT) is narrower than a JSON Schema says:
            # those answer 400 with the reason, which is documented, not a failure.
            case.call_and_validate(excluded_checks=[positive_data_acceptance])

        check()
