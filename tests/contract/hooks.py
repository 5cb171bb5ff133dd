"""Schemathesis extensions for the contract test (tests/tests/e2e/contract.rs loads this module
through SCHEMATHESIS_HOOKS): NDJSON both ways. docs/openapi.json describes an NDJSON body as the
array of its lines, so generated arrays are sent one item per line, and exports are read back
into the array of their lines before their schema is checked."""

import json

import schemathesis


@schemathesis.serializer("application/x-ndjson")
def ndjson_body(ctx, value):
    """A generated array as one JSON line per item; any other value as a single line."""
    items = value if isinstance(value, list) else [value]
    return "".join(json.dumps(item) + "\n" for item in items).encode()


@schemathesis.deserializer("application/x-ndjson")
def ndjson_response(ctx, response):
    """An export as the list of its lines, each parsed; an unparsable line is a failure."""
    text = response.content.decode(response.encoding or "utf-8")
    return [json.loads(line) for line in text.split("\n") if line.strip()]
