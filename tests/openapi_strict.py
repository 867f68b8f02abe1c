"""A strict validator for the structural OpenAPI v3 schemas of Kubernetes CustomResourceDefinitions.

It checks a manifest as the API server does with strict field validation (kubectl's
`--validate=strict`): an unknown field is an error, not silently pruned. Covered: `type` (with
`nullable`), `properties` / `required`, `additionalProperties` (schema or bool), `items`, `enum`,
`pattern`, `minimum` / `maximum`, `minLength` / `maxLength`, `minItems` / `maxItems`,
`x-kubernetes-int-or-string`, `x-kubernetes-preserve-unknown-fields` (anything goes beneath) and
the uniqueness `x-kubernetes-list-type` demands (set, or map keyed by `x-kubernetes-list-map-keys`).
Not evaluated: `format` (informational in these CRDs) and `x-kubernetes-validations` (CEL rules).
"""

from __future__ import annotations

import re
from typing import Any

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "boolean": (bool,),
    "integer": (int,),
    "number": (int, float),
}


def _is_type(value: Any, name: str) -> bool:
    if isinstance(value, bool) and name in ("integer", "number"):
        return False
    return isinstance(value, _TYPES[name])


def validate(value: Any, schema: dict[str, Any], path: str = "") -> list[str]:
    """Every violation of ``schema`` by ``value``, as ``"path: what"`` strings (empty when valid)."""
    where = path or "<root>"
    if value is None:
        return [] if schema.get("nullable") else [f"{where}: null is not allowed"]
    if schema.get("x-kubernetes-int-or-string"):
        if not (_is_type(value, "integer") or _is_type(value, "string")):
            return [f"{where}: expected an int or a string, got {type(value).__name__}"]
    elif "type" in schema and not _is_type(value, schema["type"]):
        return [f"{where}: expected {schema['type']}, got {type(value).__name__} {value!r:.60}"]
    errors: list[str] = []
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{where}: {value!r} is not one of {schema['enum']}")
    if isinstance(value, str):
        if "pattern" in schema and not re.search(schema["pattern"], value):
            errors.append(f"{where}: {value!r} does not match {schema['pattern']!r}")
        if len(value) < schema.get("minLength", 0) or len(value) > schema.get("maxLength", len(value)):
            errors.append(f"{where}: length {len(value)} out of bounds")
    if _is_type(value, "number"):
        if value < schema.get("minimum", value) or value > schema.get("maximum", value):
            errors.append(f"{where}: {value} out of bounds")
    # (A schema with no type, properties or additionalProperties constrains nothing; a structural
    # schema always has a type, except at x-kubernetes-int-or-string / -preserve-unknown-fields.)
    if isinstance(value, dict) and ({"type", "properties", "additionalProperties"} & set(schema)):
        errors += _validate_object(value, schema, path)
    if isinstance(value, list):
        errors += _validate_array(value, schema, path)
    return errors


def _validate_object(value: dict[str, Any], schema: dict[str, Any], path: str) -> list[str]:
    errors = [f"{path}.{key}: required" for key in schema.get("required", []) if key not in value]
    properties = schema.get("properties", {})
    extra = schema.get("additionalProperties", None)
    open_ended = schema.get("x-kubernetes-preserve-unknown-fields", False)
    for key, item in value.items():
        if key in properties:
            errors += validate(item, properties[key], f"{path}.{key}")
        elif isinstance(extra, dict):
            errors += validate(item, extra, f"{path}.{key}")
        elif extra is True or open_ended:
            continue
        else:
            errors.append(f"{path}.{key}: unknown field")
    return errors


def _validate_array(value: list[Any], schema: dict[str, Any], path: str) -> list[str]:
    errors = []
    if len(value) < schema.get("minItems", 0) or len(value) > schema.get("maxItems", len(value)):
        errors.append(f"{path}: {len(value)} items out of bounds")
    items = schema.get("items", {})
    for i, item in enumerate(value):
        errors += validate(item, items, f"{path}[{i}]")
    list_type = schema.get("x-kubernetes-list-type")
    if list_type == "set":
        keys = [repr(v) for v in value]
    elif list_type == "map":
        props = items.get("properties", {})
        keys = [
            tuple(
                v.get(k, props.get(k, {}).get("default"))
                for k in schema.get("x-kubernetes-list-map-keys", [])
            )
            for v in value
            if isinstance(v, dict)
        ]
    else:
        keys = []
    dup = {k for k in keys if keys.count(k) > 1}
    if dup:
        errors.append(f"{path}: duplicate entries {sorted(map(str, dup))} in a list of type {list_type}")
    return errors
