"""A small JSON Schema validator for action arguments: the keywords we generate and engines use.

Covers type, enum, const, required, properties, additionalProperties, items, minItems,
maxItems, minimum, maximum, exclusiveMinimum, exclusiveMaximum, minLength, maxLength,
pattern, anyOf, oneOf (as anyOf) and allOf. Other keywords are ignored, not refused.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

_JSON_TYPES = ("string", "integer", "number", "boolean", "array", "object", "null")


def validate(schema: Mapping[str, Any], value: Any) -> list[str]:
    """Readable errors, "count: 9 is above the maximum 5"; empty when `value` matches."""
    errors: list[str] = []
    _check(schema, value, "", errors)
    return errors


def _check(schema: Mapping[str, Any], value: Any, path: str, errors: list[str]) -> None:
    where = path or "value"
    kinds = schema.get("type")
    if kinds is not None:
        allowed = [kinds] if isinstance(kinds, str) else list(kinds)
        if not any(_is(kind, value) for kind in allowed):
            errors.append(f"{where}: expected {' or '.join(allowed)}, got {_kind(value)}")
            return
    if "const" in schema and not _same(value, schema["const"]):
        errors.append(f"{where}: must be {_show(schema['const'])}, got {_show(value)}")
    if "enum" in schema and not any(_same(value, option) for option in schema["enum"]):
        options = ", ".join(_show(option) for option in schema["enum"])
        errors.append(f"{where}: {_show(value)} is not one of {options}")
    for key in ("anyOf", "oneOf"):
        if key in schema and not any(not validate(sub, value) for sub in schema[key]):
            first = validate(schema[key][0], value) if schema[key] else []
            hint = f" ({first[0]})" if first else ""
            errors.append(f"{where}: matches none of the allowed forms{hint}")
    for sub in schema.get("allOf", ()):
        _check(sub, value, path, errors)
    if _is("number", value):
        _check_number(schema, value, where, errors)
    elif isinstance(value, str):
        _check_string(schema, value, where, errors)
    elif isinstance(value, list):
        _check_array(schema, value, path, errors)
    elif isinstance(value, dict):
        _check_object(schema, value, path, errors)


def _check_number(schema: Mapping[str, Any], value: float, where: str, errors: list[str]) -> None:
    if "minimum" in schema and value < schema["minimum"]:
        errors.append(f"{where}: {_show(value)} is below the minimum {schema['minimum']}")
    if "maximum" in schema and value > schema["maximum"]:
        errors.append(f"{where}: {_show(value)} is above the maximum {schema['maximum']}")
    if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
        errors.append(f"{where}: {_show(value)} must be above {schema['exclusiveMinimum']}")
    if "exclusiveMaximum" in schema and value >= schema["exclusiveMaximum"]:
        errors.append(f"{where}: {_show(value)} must be below {schema['exclusiveMaximum']}")


def _check_string(schema: Mapping[str, Any], value: str, where: str, errors: list[str]) -> None:
    if "minLength" in schema and len(value) < schema["minLength"]:
        errors.append(f"{where}: {_show(value)} is shorter than {schema['minLength']} characters")
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        errors.append(f"{where}: {_show(value)} is longer than {schema['maxLength']} characters")
    if "pattern" in schema and not re.search(schema["pattern"], value):
        errors.append(f"{where}: {_show(value)} does not match the pattern {schema['pattern']}")


def _check_array(schema: Mapping[str, Any], value: list[Any], path: str, errors: list[str]) -> None:
    where = path or "value"
    if "minItems" in schema and len(value) < schema["minItems"]:
        errors.append(f"{where}: needs at least {schema['minItems']} items, got {len(value)}")
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        errors.append(f"{where}: takes at most {schema['maxItems']} items, got {len(value)}")
    items = schema.get("items")
    if isinstance(items, Mapping):
        for i, item in enumerate(value):
            _check(items, item, f"{path}[{i}]", errors)


def _check_object(
    schema: Mapping[str, Any], value: dict[str, Any], path: str, errors: list[str]
) -> None:
    properties: Mapping[str, Any] = schema.get("properties", {})
    for name in schema.get("required", ()):
        if name not in value:
            errors.append(f"{_join(path, name)}: is required")
    extra = schema.get("additionalProperties", True)
    for name, item in value.items():
        if name in properties:
            _check(properties[name], item, _join(path, name), errors)
        elif extra is False:
            known = ", ".join(properties) or "none"
            errors.append(f"{_join(path, name)}: is not an allowed property (allowed: {known})")
        elif isinstance(extra, Mapping):
            _check(extra, item, _join(path, name), errors)


def _is(kind: str, value: Any) -> bool:
    if kind == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer()
        )
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    checks = {
        "string": str,
        "boolean": bool,
        "array": list,
        "object": dict,
        "null": type(None),
    }
    expected = checks.get(kind)
    return expected is not None and isinstance(value, expected)


def _kind(value: Any) -> str:
    for kind in _JSON_TYPES:
        if kind != "number" and _is(kind, value):
            return kind
    return "number" if _is("number", value) else type(value).__name__


def _same(a: Any, b: Any) -> bool:
    """JSON equality: true is not 1, 1 is 1.0."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    return bool(a == b)


def _show(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name
