"""Property-based fuzzing of the whole API from its own OpenAPI document: whatever schemathesis sends (valid input
and input the document forbids), anonymously and with each role's token, no operation answers a 5xx, and every
answer, problems included, matches what the document says of it."""

from __future__ import annotations

from collections.abc import Callable

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

# Few examples per operation, the same ones on every run: the whole API takes about a minute per database.
EXAMPLES_PER_OPERATION = 15
CHECKS = [not_a_server_error, response_schema_conformance]
# Operations left out, each with why (none so far: every operation runs in-process).
EXCLUDED: dict[str, str] = {}


def fuzz(operation: schemathesis.APIOperation, callers: dict[str, dict[str, str]]) -> str | None:
    """What went wrong when `operation` was called by each of `callers` (name -> headers), or None."""

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate],  # no shrinking: the first failing request is reported as it was sent
        suppress_health_check=list(HealthCheck),
    )
    @given(case=st.one_of(operation.as_strategy(mode) for mode in GenerationMode))
    def call(case: schemathesis.Case) -> None:
        for name, headers in callers.items():
            try:
                case.call_and_validate(headers=headers, checks=CHECKS)
            except BaseException as failure:
                failure.add_note(f"called as {name}")
                raise

    try:
        call()
    except (Exception, BaseExceptionGroup) as failure:
        notes = "\n".join(getattr(failure, "__notes__", []))
        return f"{operation.label}: {type(failure).__name__}: {failure}\n{notes}"
    return None


def test_no_operation_answers_a_server_error_or_off_its_document(
    fuzzed_api: schemathesis.BaseSchema, fresh_callers: Callable[[], dict[str, dict[str, str]]]
) -> None:
    failures = []
    for result in fuzzed_api.get_all_operations():
        operation = result.ok()
        if operation.label in EXCLUDED:
            continue
        # New tokens per operation: one that revokes its caller's token must not blind the operations after it.
        failure = fuzz(operation, fresh_callers())
        if failure:
            failures.append(failure)
    assert not failures, f"{len(failures)} operations failed:\n\n" + "\n\n".join(failures)


def test_every_operation_documents_its_problems(client) -> None:
    spec = client.get("/openapi.json").json()
    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            for status in ("422", "4XX", "5XX"):
                assert operation["responses"][status]["content"] == problem, f"{method.upper()} {path} {status}"
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    required = spec["components"]["schemas"]["Problem"]["required"]
    assert set(required) == {"type", "title", "status", "detail", "instance"}
