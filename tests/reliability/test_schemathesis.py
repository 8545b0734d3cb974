"""schemathesis against the live server's /openapi.json: requests generated from the schema of every
generation endpoint, valid ones and invalid ones, and not one answered with a 5xx (nor, once a
stream has begun, with a server error inside it). Bounded for CI: about 500 requests, replies of at
most 8 tokens and at most 2 choices."""

from __future__ import annotations

from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from tests.server.helpers import MODEL_ID

pytestmark = pytest.mark.slow

OPERATIONS = ["/v1/chat/completions", "/v1/completions", "/v1/responses", "/v1/messages", "/tokenize", "/detokenize"]
EXAMPLES_PER_MODE = 30  # x 2 modes x 6 operations: 360 requests
MAX_TOKENS, MAX_CHOICES = 8, 2
LENGTH_FIELDS = ("max_tokens", "max_completion_tokens", "max_output_tokens", "min_tokens")
SERVER_ERRORS_IN_STREAMS = ('"server_error"', '"internal_error"', '"api_error"')


def bounded(body):
    """The generated body with its reply kept short: lengths and choice counts clamped (only where
    they are valid integers, so invalid ones still reach the server), and in valid requests the
    served model named half the time (otherwise nearly every request is a 404)."""
    if not isinstance(body, dict):
        return body
    body = dict(body)
    for name in LENGTH_FIELDS:
        if type(body.get(name)) is int and body[name] > MAX_TOKENS:
            body[name] = MAX_TOKENS
    for name in ("n", "best_of"):
        if type(body.get(name)) is int and body[name] > MAX_CHOICES:
            body[name] = MAX_CHOICES
    if isinstance(body.get("model"), str) and len(body["model"]) % 2 == 0:
        body["model"] = MODEL_ID
    return body


@pytest.fixture(scope="module")
def schema(hostile_server):
    return schemathesis.openapi.from_url(hostile_server.url + "/openapi.json", headers=hostile_server.headers)


def test_no_generated_request_gets_a_5xx(hostile_server, schema, request):
    import requests

    statuses: Counter = Counter()
    session = requests.Session()
    session.headers.update(hostile_server.headers)

    for path in OPERATIONS:
        operation = schema[path]["POST"]
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            @settings(max_examples=EXAMPLES_PER_MODE, deadline=None, database=None, derandomize=True,
                      suppress_health_check=list(HealthCheck))
            @given(case=operation.as_strategy(generation_mode=mode))
            def run(case):
                case.body = bounded(case.body)
                response = case.call(base_url=hostile_server.url, session=session, timeout=120)
                statuses[(path, response.status_code)] += 1
                case.validate_response(response, checks=[not_a_server_error])
                if response.headers.get("content-type", [""])[0].startswith("text/event-stream"):
                    assert not any(marker in response.text for marker in SERVER_ERRORS_IN_STREAMS), response.text

            run()

    total = sum(statuses.values())
    by_status = Counter()
    for (_, status), count in statuses.items():
        by_status[status] += count
    summary = f"schemathesis: {total} requests to {len(OPERATIONS)} operations, by status {dict(sorted(by_status.items()))}"
    request.node.user_properties.append(("schemathesis_requests", total))
    print("\n" + summary)
    assert total >= 2 * len(OPERATIONS) * EXAMPLES_PER_MODE, summary
    assert not any(status >= 500 for status in by_status), summary
