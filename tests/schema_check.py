"""The JSON Schemas in schemas/ (repo-relative), for the tests that write
JSON: `validate("check.schema.json", doc)` raises jsonschema.ValidationError
if ``doc`` does not match."""
from __future__ import annotations

import functools
import json
from pathlib import Path

import jsonschema
import referencing

SCHEMAS = Path(__file__).resolve().parent.parent / "schemas"


@functools.lru_cache(maxsize=None)
def validator(name: str) -> jsonschema.Draft202012Validator:
    docs = [json.loads(p.read_text()) for p in sorted(SCHEMAS.glob("*.schema.json"))]
    registry = referencing.Registry().with_resources(
        (d["$id"], referencing.Resource.from_contents(d)) for d in docs)
    schema = json.loads((SCHEMAS / name).read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, registry=registry)


def validate(name: str, doc) -> None:
    validator(name).validate(doc)
