"""Derive an action's JSON Schema from its signature's type hints and its docstring."""

from __future__ import annotations

import inspect
import re
import types
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin, get_type_hints

_SCALARS: dict[Any, str] = {str: "string", int: "integer", float: "number", bool: "boolean"}
_ARG_SECTIONS = ("args:", "arguments:", "parameters:", "params:")
_ARG_LINE = re.compile(r"^(\*{0,2}\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")


@dataclass(frozen=True, slots=True)
class Range:
    """Bounds for a number parameter: `Annotated[int, Range(1, 5)]`."""

    minimum: float | None = None
    maximum: float | None = None


@dataclass(frozen=True, slots=True)
class Length:
    """Length bounds for a string or list parameter: `Annotated[str, Length(1, 40)]`."""

    minimum: int | None = None
    maximum: int | None = None


class SchemaError(Exception):
    """The signature cannot become a JSON Schema; the decorator turns it into a DesignerError."""


@dataclass(frozen=True, slots=True)
class Derived:
    """What a function's signature and docstring say about it as an action."""

    description: str
    parameters: dict[str, Any]
    context_param: str  # the parameter the brain fills with its ActionContext, or ""


def derive(fn: Callable[..., Any], context_type: object, description: str | None) -> Derived:
    """The action schema for `fn`; parameters annotated `context_type` are left out."""
    try:
        hints = get_type_hints(fn, include_extras=True)
    except Exception as e:  # an annotation that does not evaluate: NameError and friends
        raise SchemaError(f"type hints of {fn.__name__}() do not resolve: {e}") from e
    summary, arg_docs = parse_docstring(inspect.getdoc(fn) or "")
    properties: dict[str, Any] = {}
    required: list[str] = []
    context_param = ""
    for param in inspect.signature(fn).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD, param.POSITIONAL_ONLY):
            raise SchemaError(f"parameter '{param.name}': actions take named parameters only")
        if param.name not in hints:
            raise SchemaError(f"parameter '{param.name}' needs a type hint")
        hint = hints[param.name]
        if hint is context_type:
            context_param = param.name
            continue
        optional, hint = _strip_optional(hint)
        prop = _schema(hint, param.name)
        if optional:
            prop = {"anyOf": [prop, {"type": "null"}]}
        if param.name in arg_docs and "description" not in prop:
            prop["description"] = arg_docs[param.name]
        if param.default is not param.empty:
            if _jsonable(param.default):
                prop["default"] = param.default
        elif not optional:
            required.append(param.name)
        properties[param.name] = prop
    parameters: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        parameters["required"] = required
    parameters["additionalProperties"] = False
    text = description if description is not None else summary
    return Derived(text or fn.__name__.replace("_", " "), parameters, context_param)


def parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """(first paragraph on one line, {parameter: description} from a Google-style Args:)."""
    lines = doc.expandtabs().splitlines()
    summary: list[str] = []
    for line in lines:
        if not line.strip() or line.strip().lower() in _ARG_SECTIONS:
            break
        summary.append(line.strip())
    args: dict[str, str] = {}
    current = ""
    indent = -1
    in_args = False
    for line in lines:
        stripped = line.strip()
        depth = len(line) - len(line.lstrip())
        if stripped.lower() in _ARG_SECTIONS:
            in_args, current, indent = True, "", -1
            continue
        if not in_args or not stripped:
            continue
        if indent < 0:
            indent = depth
        if depth < indent or (depth == 0 and stripped.endswith(":")):
            in_args = False  # the next section ("Returns:") or text after the list
            continue
        match = _ARG_LINE.match(stripped)
        if depth == indent and match:
            current = match.group(1).lstrip("*")
            args[current] = match.group(2).strip()
        elif current:
            args[current] = f"{args[current]} {stripped}".strip()
    return " ".join(summary), args


def _strip_optional(hint: Any) -> tuple[bool, Any]:
    if get_origin(hint) in (Union, types.UnionType):
        members = [a for a in get_args(hint) if a is not type(None)]
        if len(members) < len(get_args(hint)):
            rest = members[0] if len(members) == 1 else Union[tuple(members)]  # noqa: UP007
            return True, rest
    return False, hint


def _schema(hint: Any, name: str) -> dict[str, Any]:
    origin, args = get_origin(hint), get_args(hint)
    if isinstance(hint, type) and hint in _SCALARS:
        return {"type": _SCALARS[hint]}
    if origin is Annotated:
        annotated = _schema(args[0], name)
        for extra in args[1:]:
            _annotate(annotated, extra, name)
        return annotated
    if origin is Literal:
        values = list(args)
        kinds = {_SCALARS.get(type(v)) for v in values}
        if None in kinds:
            raise SchemaError(f"parameter '{name}': Literal values must be str, int, float or bool")
        if len(kinds) == 1:
            return {"type": kinds.pop(), "enum": values}
        return {"enum": values}
    if origin in (list, Sequence, tuple) and (origin is not tuple or args[1:] == (...,)):
        if not args:
            raise SchemaError(f"parameter '{name}': say what the list holds, e.g. list[str]")
        return {"type": "array", "items": _schema(args[0], name)}
    if origin in (Union, types.UnionType):
        return {"anyOf": [_schema(a, name) for a in args]}
    if hint is dict or (origin is dict and args[:1] == (str,)):
        mapping: dict[str, Any] = {"type": "object"}
        if args:
            mapping["additionalProperties"] = _schema(args[1], name)
        return mapping
    raise SchemaError(
        f"parameter '{name}': type {_name(hint)} is not supported; use str, "
        "int, float, bool, Literal[...], list[...], dict[str, ...] or Optional of one"
    )


def _name(hint: Any) -> str:
    return hint.__name__ if isinstance(hint, type) else str(hint).replace("typing.", "")


def _annotate(schema: dict[str, Any], extra: Any, name: str) -> None:
    if isinstance(extra, str):
        schema["description"] = extra
    elif isinstance(extra, Range):
        if schema.get("type") not in ("integer", "number"):
            raise SchemaError(f"parameter '{name}': Range bounds a number; use Length for text")
        _put(schema, "minimum", extra.minimum)
        _put(schema, "maximum", extra.maximum)
    elif isinstance(extra, Length):
        kind = schema.get("type")
        prefix = {"string": "Length", "array": "Items"}.get(str(kind))
        if prefix is None:
            raise SchemaError(f"parameter '{name}': Length bounds a string or a list")
        _put(schema, f"min{prefix}", extra.minimum)
        _put(schema, f"max{prefix}", extra.maximum)


def _put(schema: dict[str, Any], key: str, value: float | None) -> None:
    if value is not None:
        schema[key] = value


def _jsonable(value: Any) -> bool:
    if value is None or isinstance(value, str | int | float | bool):
        return True
    if isinstance(value, list | tuple):
        return all(_jsonable(v) for v in value)
    return False
