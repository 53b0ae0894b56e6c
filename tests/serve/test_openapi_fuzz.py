"""Schemathesis against the OpenAPI document: generated requests never get a 5xx.

Runs in-process (``schemathesis.openapi.from_asgi``) over real Redis; the app owns its
Redis client, which the schemathesis event loop thread starts through the lifespan.
"""

from __future__ import annotations

import asyncio
import contextlib

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from tests.serve.conftest import (
    app_over_redis,
    auth,
    incident,
    seed,
)

from correlator.runtime.redis_server import EmbeddedRedis
from correlator.store.redis import RedisStateStore

pytestmark = [pytest.mark.integration, pytest.mark.slow]


async def _seed(url: str, prefix: str) -> None:
    async with RedisStateStore(url, prefix=prefix) as store:
        await seed(store, [incident(n, ["api", "db"], causes=[("db", 0.9)]) for n in range(5)])


def test_generated_requests_never_get_a_server_error(
    redis_server: EmbeddedRedis, unique: str
) -> None:
    asyncio.run(_seed(redis_server.url, f"{unique}:"))
    app = app_over_redis(redis_server.url, f"{unique}:")
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 19
    for operation in operations:
        _fuzz(operation.as_strategy(generation_mode=GenerationMode.POSITIVE))
        # invalid inputs; an operation without parameters has none to make
        with contextlib.suppress(Unsatisfiable):
            _fuzz(operation.as_strategy(generation_mode=GenerationMode.NEGATIVE))


def _fuzz(strategy: st.SearchStrategy[schemathesis.Case]) -> None:
    @given(case=strategy)
    @settings(
        max_examples=20,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: schemathesis.Case) -> None:
        case.call_and_validate(
            headers=auth("admin"),
            checks=[
                not_a_server_error,
                status_code_conformance,
                content_type_conformance,
                response_schema_conformance,
            ],
        )

    run()
