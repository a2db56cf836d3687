"""A JSON Schema as a plan for guided decoding: forced text, choices and free strings.

`plan(schema)` turns the subset of JSON Schema the brain's replies use into a list of
steps; `npc/llm/guided_decode.py` runs it on a model. Text the schema forces (braces,
keys, quotes, `const` values) is a `Forced` step, never sampled; where the schema allows
several things (`enum`, `anyOf`, booleans, a small integer range, an optional property)
it is a `Choice` whose options each carry the whole rest of the plan, so the decoder can
score the options by the tokens that tell them apart; a plain string is a `Text` step
(sampled freely, its closing quote decided by the model). A schema outside the subset
(numbers, arrays, patterns, formats, `$ref`...) raises `Unsupported`: the backend then
uses its grammar for the whole request.

The output follows `json.dumps`'s spacing (`{"a": 1, "b": 2}`), the spacing of the
examples and history the brain puts in its prompts.
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("npc_bridge.llm")

SMALL_RANGE = 16  # an integer with at most this many allowed values is a choice
OPTIONAL_KEPT = 4  # more optional properties in one object than this: unsupported


class Unsupported(ValueError):
    """The schema uses something the guided decoder does not handle."""


@dataclass(frozen=True, slots=True)
class Forced:
    """Text the schema allows nothing else for."""

    text: str


@dataclass(frozen=True, slots=True)
class Text:
    """The inside of a JSON string (its opening quote already forced) and its closing
    quote; lengths in characters of the decoded string."""

    min_chars: int = 0
    max_chars: int | None = None


@dataclass(frozen=True, slots=True)
class Choice:
    """Alternatives, each the full rest of the plan; each begins with forced text and no
    option's text up to its next step is a prefix of another's."""

    options: tuple[Plan, ...]


Step = Forced | Text | Choice
Plan = tuple[Step, ...]


def plan(schema: dict[str, Any]) -> Plan:
    """The steps that write a value of `schema`; Unsupported when outside the subset."""
    return _value(schema, ())


class Plans:
    """Plans by schema, the newest `kept`; None for a schema outside the subset."""

    def __init__(self, kept: int = 32) -> None:
        self.kept = kept
        self._plans: OrderedDict[str, Plan | None] = OrderedDict()

    def get(self, schema: dict[str, Any]) -> Plan | None:
        key = json.dumps(schema)  # in the schema's own order: the plan keeps it
        if key not in self._plans:
            try:
                self._plans[key] = plan(schema)
            except Unsupported as e:
                log.info("the grammar decodes a schema outside the guided subset: %s", e)
                self._plans[key] = None
            while len(self._plans) > self.kept:
                self._plans.popitem(last=False)
        return self._plans[key]


def lead(steps: Plan) -> tuple[str, Plan]:
    """The forced text at the head of `steps` and the steps after it."""
    text: list[str] = []
    i = 0
    while i < len(steps) and isinstance(steps[i], Forced):
        text.append(steps[i].text)  # type: ignore[union-attr]
        i += 1
    return "".join(text), steps[i:]


def _value(schema: Any, rest: Plan) -> Plan:
    if not isinstance(schema, dict):
        raise Unsupported(f"schema {schema!r} is not an object")
    for key in ("$ref", "allOf", "not", "if", "pattern", "format", "patternProperties"):
        if key in schema:
            raise Unsupported(f"'{key}'")
    if "const" in schema:
        return (Forced(json.dumps(schema["const"], ensure_ascii=False)), *rest)
    if "enum" in schema:
        values = schema["enum"]
        if not values:
            raise Unsupported("an empty enum")
        return _choice([(Forced(json.dumps(v, ensure_ascii=False)), *rest) for v in values])
    branches = schema.get("anyOf", schema.get("oneOf"))
    if branches is not None:
        return _choice([_value(b, rest) for b in branches])
    kind = schema.get("type")
    if kind == "object" or (kind is None and "properties" in schema):
        return _object(schema, rest)
    if kind == "string":
        low, high = schema.get("minLength", 0), schema.get("maxLength")
        return (Forced('"'), Text(int(low), None if high is None else int(high)), *rest)
    if kind == "boolean":
        return _choice([(Forced("true"), *rest), (Forced("false"), *rest)])
    if kind == "null":
        return (Forced("null"), *rest)
    if kind == "integer":
        low, high = schema.get("minimum"), schema.get("maximum")
        if isinstance(low, int) and isinstance(high, int) and 0 <= high - low < SMALL_RANGE:
            return _choice([(Forced(str(n)), *rest) for n in range(low, high + 1)])
    raise Unsupported(f"type {kind!r} here")


def _object(schema: dict[str, Any], rest: Plan) -> Plan:
    props: dict[str, Any] = schema.get("properties", {})
    required = set(schema.get("required", ()))
    if sum(1 for name in props if name not in required) > OPTIONAL_KEPT:
        raise Unsupported("too many optional properties")
    items = list(props.items())

    def after(i: int, first: bool) -> Plan:
        if i == len(items):
            return (Forced("}"), *rest)
        name, sub = items[i]
        key = ("" if first else ", ") + json.dumps(name, ensure_ascii=False) + ": "
        kept = (Forced(key), *_value(sub, after(i + 1, False)))
        if name in required:
            return kept
        return _choice([kept, after(i + 1, first)])

    return (Forced("{"), *after(0, True))


def _choice(options: list[Plan]) -> Plan:
    flat: list[Plan] = []
    for option in options:
        text, tail = lead(option)
        if not text and tail and isinstance(tail[0], Choice):
            flat.extend(tail[0].options)  # a choice opening a choice: one choice
        elif not text:
            raise Unsupported("an alternative that writes nothing")
        else:
            flat.append(option)
    if len(flat) == 1:
        return flat[0]
    heads = [lead(option)[0] for option in flat]
    for i, a in enumerate(heads):
        for j, b in enumerate(heads):
            if i != j and b.startswith(a):
                raise Unsupported(f"alternatives {a!r} and {b!r} begin alike")
    return (Choice(tuple(flat)),)
