"""Base message classes, the wire-type registry and per-field type checks."""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple, TypeVar

from bridge import errors
from bridge.errors import ProtocolError

# Who may send a message: the engine ("in"), the brain ("out"), or either ("both").
IN, OUT, BOTH = "in", "out", "both"


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    """A protocol message; subclasses set TYPE (the wire `type` string) and DIRECTION."""

    TYPE: ClassVar[str] = ""
    DIRECTION: ClassVar[str] = BOTH
    # Names of `bytes` fields that travel as raw frames after the header, in this order.
    FRAMES: ClassVar[tuple[str, ...]] = ()
    # Control messages jump the queue and survive barge-in; data messages do not.
    CONTROL: ClassVar[bool] = False

    def check(self) -> None:
        """Check field values beyond their types; raise ProtocolError when invalid."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionMessage(Message):
    """A message that belongs to one conversation (`session` is its engine-chosen id)."""

    session: str


Checker = Callable[[Any], Any]


class FieldSpec(NamedTuple):
    """How one header field is read: its name, its checker and whether it may be left out."""

    name: str
    check: Checker
    required: bool


@dataclass(frozen=True, slots=True)
class MessageSpec:
    """Everything the codec needs to read and write one message class."""

    cls: type[Message]
    fields: tuple[FieldSpec, ...]
    header_names: tuple[str, ...]
    frame_names: tuple[str, ...]
    float_names: frozenset[str]  # written as msgpack floats even when given an int


REGISTRY: dict[str, MessageSpec] = {}
M = TypeVar("M", bound=type[Message])


def register(cls: M) -> M:
    """Class decorator: add a message class to the wire-type registry."""
    if not cls.TYPE or cls.TYPE in REGISTRY:
        raise TypeError(f"message type {cls.TYPE!r} of {cls.__name__} is empty or taken")
    hints = typing.get_type_hints(cls)
    specs = []
    for f in dataclasses.fields(cls):
        if f.name in cls.FRAMES:
            continue
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        specs.append(FieldSpec(f.name, _checker(hints[f.name], f.name), required))
    floats = frozenset(s.name for s in specs if hints[s.name] in (float, float | None))
    REGISTRY[cls.TYPE] = MessageSpec(
        cls, tuple(specs), tuple(s.name for s in specs), tuple(cls.FRAMES), floats
    )
    return cls


def _fail(name: str, want: str, value: Any) -> ProtocolError:
    got = type(value).__name__
    return ProtocolError(f"field '{name}' must be {want}, got {got}", code=errors.BAD_FIELD)


def _checker(hint: Any, name: str) -> Checker:
    """Build a function that checks (and lightly normalises) one decoded value."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is Any:
        return lambda v: v
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        sub = _checker(inner[0], name)
        return lambda v: None if v is None else sub(v)
    if hint is str:
        return _simple(str, "a string", name)
    if hint is bool:
        return _simple(bool, "true or false", name)
    if hint is int:

        def check_int(v: Any) -> int:
            if type(v) is not int:
                raise _fail(name, "an integer", v)
            return v

        return check_int
    if hint is float:

        def check_float(v: Any) -> float:
            if type(v) is float:
                return v
            if type(v) is int:
                return float(v)
            raise _fail(name, "a number", v)

        return check_float
    if origin is list:
        item = _checker(args[0], f"{name}[]")

        def check_list(v: Any) -> list[Any]:
            if not isinstance(v, list):
                raise _fail(name, "an array", v)
            return [item(x) for x in v]

        return check_list
    if origin is dict:
        key = _checker(args[0], f"{name} key")
        val = _checker(args[1], f"{name} value")

        def check_dict(v: Any) -> dict[Any, Any]:
            if not isinstance(v, dict):
                raise _fail(name, "a map", v)
            return {key(k): val(x) for k, x in v.items()}

        return check_dict
    raise TypeError(f"field {name}: unsupported annotation {hint!r}")


def _simple(kind: type, want: str, name: str) -> Checker:
    def check(v: Any) -> Any:
        if type(v) is not kind:
            raise _fail(name, want, v)
        return v

    return check
