"""A small OpenAPI 3.0 subset validator, strict where the SDK needs strictness.

Supported: `$ref` (local), `type`, `nullable`, `enum`, `required`, `properties`, `items`,
`allOf`, `oneOf`, `additionalProperties`, `minimum`/`maximum`, `pattern`. Objects are CLOSED
unless the schema says `additionalProperties: true` (or gives a schema for extra keys): a field
the spec does not describe is an error, so the sandbox cannot drift away from the spec unnoticed.
Formats are not checked; `allOf` branches are validated independently (the spec only uses
`allOf` to make a `$ref` nullable).
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
if importlib.util.find_spec("gigstack_async") is None:  # not installed (no editable install)
    sys.path.insert(0, str(REPO))
if importlib.util.find_spec("codegen") is None:
    sys.path.insert(0, str(REPO))

from codegen.spec import load_bundle  # noqa: E402

SAT_PATHS = frozenset(yaml.safe_load((REPO / "openapi" / "gigstack.yaml").read_text())["paths"])
"""The SAT invoices + Descarga Masiva paths (test_sandbox_contract.py); the core tags are walked
by test_core_contract.py."""

_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
}


class SchemaValidator:
    """Validates decoded JSON against schemas of one OpenAPI document."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        """Follow `$ref` chains (local references only)."""
        while "$ref" in schema:
            ref = schema["$ref"]
            assert ref.startswith("#/"), f"only local $ref supported: {ref}"
            node: Any = self.spec
            for part in ref[2:].split("/"):
                node = node[part]
            schema = node
        return schema

    def errors(self, value: Any, schema: dict[str, Any], path: str = "$") -> list[str]:
        """Every violation, as `path: reason` strings (empty when valid)."""
        schema = self.resolve(schema)
        if value is None:
            return [] if schema.get("nullable") else [f"{path}: null is not allowed"]
        found: list[str] = []
        for branch in schema.get("allOf", []):
            found += self.errors(value, branch, path)
        if "oneOf" in schema:
            matches = [b for b in schema["oneOf"] if not self.errors(value, b, path)]
            if len(matches) != 1:
                found.append(f"{path}: matches {len(matches)} oneOf branches, expected exactly 1")
        if "enum" in schema and value not in schema["enum"]:
            found.append(f"{path}: {value!r} is not one of {schema['enum']}")
        kind = schema.get("type")
        if kind is not None and not self._is_type(value, kind):
            return [*found, f"{path}: expected {kind}, got {type(value).__name__} {value!r}"]
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if "minimum" in schema and value < schema["minimum"]:
                found.append(f"{path}: {value} < minimum {schema['minimum']}")
            if "maximum" in schema and value > schema["maximum"]:
                found.append(f"{path}: {value} > maximum {schema['maximum']}")
        if (
            isinstance(value, str)
            and "pattern" in schema
            and not re.search(schema["pattern"], value)
        ):
            found.append(f"{path}: {value!r} does not match {schema['pattern']}")
        if isinstance(value, list) and "items" in schema:
            for index, item in enumerate(value):
                found += self.errors(item, schema["items"], f"{path}[{index}]")
        if isinstance(value, dict) and (kind == "object" or "properties" in schema):
            found += self._object_errors(value, schema, path)
        return found

    def _object_errors(self, value: dict[str, Any], schema: dict[str, Any], path: str) -> list[str]:
        found = [
            f"{path}: missing required {name!r}"
            for name in schema.get("required", [])
            if name not in value
        ]
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties", False)
        for name, item in value.items():
            if name in properties:
                found += self.errors(item, properties[name], f"{path}.{name}")
            elif extra is True:
                continue
            elif isinstance(extra, dict):
                found += self.errors(item, extra, f"{path}.{name}")
            else:
                found.append(f"{path}: unexpected field {name!r} (not in the spec)")
        return found

    @staticmethod
    def _is_type(value: Any, kind: str) -> bool:
        if kind == "integer":
            return isinstance(value, int) and not isinstance(value, bool)
        if kind == "number":
            return isinstance(value, (int, float)) and not isinstance(value, bool)
        return isinstance(value, _TYPES[kind])

    def response_schema(self, path: str, method: str, status: int) -> dict[str, Any]:
        """The JSON schema of an operation's response for `status`.

        A status the operation does not list falls back to the shared `Error` response when it
        is >= 400 (so every error must still be the error envelope); an unlisted 2xx fails.
        """
        responses = self.spec["paths"][path][method.lower()]["responses"]
        response = responses.get(str(status))
        if response is None:
            assert status >= 400, f"{method} {path}: {status} is not a documented response"
            response = {"$ref": "#/components/responses/Error"}
        response = self.resolve(response)
        schema: dict[str, Any] = response["content"]["application/json"]["schema"]
        return schema


@pytest.fixture(scope="session")
def spec() -> dict[str, Any]:
    """Every openapi/*.yaml, merged into one document (codegen.spec.load_bundle)."""
    return load_bundle(REPO / "openapi")


@pytest.fixture(scope="session")
def validator(spec: dict[str, Any]) -> SchemaValidator:
    return SchemaValidator(spec)


@pytest.fixture(scope="session")
def bundle_validator(validator: SchemaValidator) -> SchemaValidator:
    """The validator over the whole bundle (kept as a name for the core contract test)."""
    return validator
