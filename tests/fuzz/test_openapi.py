"""Schemathesis against the service's own OpenAPI document (/api/openapi.json).

Every generated request, valid (positive) and invalid (negative), must get an
answer that is not a server error and that matches the document: status code,
content type, headers and body schema. Cookies are sometimes a real session
and ``Origin`` sometimes a registered app, so both answers of ``/api/me`` (a
user, or null) and sign-out are checked. (Schemathesis' lazy pytest fixture
does not run under pytest 9, so operations are drawn here with Hypothesis.)
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import given
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import negative_data_rejection, positive_data_acceptance

from .conftest import FuzzApp, examples

COOKIE = "onebar_session"
OPERATIONS = ("GET /api/me", "POST /api/logout", "POST /api/token", "GET /healthz")


@pytest.fixture(scope="module")
def api_schema(fuzz_app: FuzzApp):  # type: ignore[no-untyped-def]
    return schemathesis.openapi.from_wsgi("/api/openapi.json", fuzz_app.app)


def test_the_document_lists_the_operations_fuzzed_here(api_schema):
    labels = {result.ok().label for result in api_schema.get_all_operations()}
    assert labels == set(OPERATIONS)


#: Negative (invalid) data exists only where the document declares input: the sign-out and token bodies.
CASES = [(label, GenerationMode.POSITIVE) for label in OPERATIONS] + [
    (label, GenerationMode.NEGATIVE) for label in ("POST /api/logout", "POST /api/token")]


@pytest.mark.parametrize(("label", "mode"), CASES, ids=[f"{label} {mode.value}" for label, mode in CASES])
@examples(25)
@given(data=st.data(), signed_in=st.booleans(),
       origin=st.sampled_from([None, "http://localhost:5001", "https://evil.example"]))
def test_answers_conform_to_the_document_and_are_never_5xx(api_schema, fuzz_app, label, mode, data, signed_in,
                                                          origin):
    operation = api_schema.find_operation_by_label(label)
    case = data.draw(operation.as_strategy(generation_mode=mode))
    headers = {}
    if origin:
        headers["Origin"] = origin
    if signed_in:
        headers["Cookie"] = f"{COOKIE}={fuzz_app.new_session_cookie()}"
    # The service ignores the sign-out body (the JSON content type is what forces
    # the CORS preflight), so a body that breaks its schema is accepted: not a
    # failure of the contract this test holds the service to.
    excluded = [negative_data_rejection]
    if label == "POST /api/token":
        # A made-up code is unknown: 400 invalid_grant (RFC 6749) is the right
        # answer to a well-formed request, and tests/test_handoff.py redeems real ones.
        excluded.append(positive_data_acceptance)
    case.call_and_validate(headers=headers, excluded_checks=excluded)


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
@pytest.mark.parametrize("path", ["/api/me", "/api/logout", "/api/token", "/healthz"])
def test_methods_outside_the_document_are_refused_not_failed(fuzz_app, path, method):
    response = fuzz_app.app.test_client().open(path, method=method)
    assert response.status_code == 405
    assert method not in response.headers["Allow"] and response.headers["Allow"]
