"""Python actions: typed functions under `@action`, their JSON Schema, loading and running them.

    @action
    def paint_mech(ctx: ActionContext, color: Literal["red", "blue"], coats: int = 1) -> str:
        '''Repaint the player's mech.

        Args:
            color: The new colour.
            coats: How many coats of paint.
        '''

The schema comes from the type hints (defaults make a parameter optional) and the
docstring (first paragraph: the description; `Args:` lines: parameter descriptions). A
parameter annotated `ActionContext` is filled by the brain and is not in the schema.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import re
import sys
import traceback
import types
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar, overload

from bridge import errors
from bridge.errors import BridgeError, DesignerError
from npc.designer.schema import Length, Range, SchemaError, derive
from npc.designer.validate import validate

__all__ = [
    "ActionContext",
    "ActionSpec",
    "Length",
    "Range",
    "action",
    "load_action_file",
    "load_actions",
    "run_action",
    "validate",
]

F = TypeVar("F", bound=Callable[..., Any])
_SPEC = "__npc_action__"  # the attribute `@action` leaves on a function
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # what OpenAI-style tool names allow


class ActionContext(Protocol):
    """What an action may know and do beyond its arguments; the brain provides it."""

    @property
    def npc(self) -> str: ...  # the NPC's id
    @property
    def player(self) -> str: ...  # the player's id
    @property
    def session(self) -> str: ...  # the session's id

    def relationship(self) -> dict[str, int]:
        """What the NPC feels about the player ("trust": 20, ...)."""
        ...

    def change_relationship(self, key: str, delta: int) -> int:
        """Add `delta` to a relationship value (clamped to -100..100); returns the new value."""
        ...

    def remember(self, text: str) -> None:
        """Add a line to the NPC's memory of this player (an "event" turn)."""
        ...


@dataclass(frozen=True, slots=True)
class ActionSpec:
    """An action the LLM may call: its name, description, JSON Schema and function."""

    name: str
    description: str
    parameters: dict[str, Any]  # JSON Schema of an object, additionalProperties false
    fn: Callable[..., Any]
    source: str  # "file:line" of the definition
    wants_context: bool
    context_param: str = ""  # the parameter the ActionContext goes to

    @property
    def line(self) -> int | None:
        """The line of the definition in its file."""
        line = self.source.rpartition(":")[2]
        return int(line) if line.isdigit() else None

    def tool(self) -> dict[str, Any]:
        """The OpenAI tools form, as engines declare their actions."""
        function = {"name": self.name, "description": self.description}
        return {"type": "function", "function": {**function, "parameters": self.parameters}}


@overload
def action(fn: F, /) -> F: ...
@overload
def action(*, name: str | None = None, description: str | None = None) -> Callable[[F], F]: ...
def action(
    fn: F | None = None, /, *, name: str | None = None, description: str | None = None
) -> F | Callable[[F], F]:
    """Make a typed function an action; `name` and `description` override the derived ones."""

    def mark(f: F) -> F:
        setattr(f, _SPEC, _spec_of(f, name, description))
        return f

    return mark if fn is None else mark(fn)


def _spec_of(fn: Callable[..., Any], name: str | None, description: str | None) -> ActionSpec:
    code = getattr(fn, "__code__", None)
    path = code.co_filename if code else "<unknown>"
    line = code.co_firstlineno if code else None
    action_name = name or fn.__name__
    if not _NAME.match(action_name):
        raise DesignerError(
            path, line, f"action name '{action_name}' must be 1-64 of A-Z a-z 0-9 _ -"
        )
    try:
        derived = derive(fn, ActionContext, description)
    except SchemaError as e:
        raise DesignerError(path, line, f"action '{action_name}': {e}") from e
    return ActionSpec(
        action_name,
        derived.description,
        derived.parameters,
        fn,
        f"{path}:{line}",
        bool(derived.context_param),
        derived.context_param,
    )


def spec_of(fn: Callable[..., Any]) -> ActionSpec | None:
    """The spec `@action` gave `fn`, or None for a plain function."""
    spec = getattr(fn, _SPEC, None)
    return spec if isinstance(spec, ActionSpec) else None


def load_action_file(path: Path, source: str | None = None) -> dict[str, ActionSpec]:
    """Run one actions module (fresh each time, never a cached copy) and collect its actions.

    A syntax error or an exception while it runs is a DesignerError at its line.
    """
    module = run_module(path, source, "npc_actions")
    module_name = module.__name__
    found: dict[str, ActionSpec] = {}
    for value in vars(module).values():
        spec = spec_of(value)
        if spec is None or getattr(value, "__module__", None) != module_name:
            continue  # plain functions, and actions imported from elsewhere
        if spec.name in found:
            raise DesignerError(
                path,
                spec.line,
                f"action '{spec.name}' is also defined at {found[spec.name].source}",
            )
        found[spec.name] = spec
    return found


def run_module(path: Path, source: str | None, prefix: str) -> types.ModuleType:
    """Run a designer's Python file as a fresh module named after `prefix` and its path.

    A syntax error or an exception while it runs is a DesignerError at its line.
    """
    path = path.resolve()
    if source is None:
        try:
            source = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise DesignerError(path, None, f"cannot read: {e}") from e
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:12]
    stem = re.sub(r"\W", "_", path.stem)
    module_name = f"{prefix}_{digest}_{stem}"
    module = types.ModuleType(module_name)
    module.__file__ = str(path)
    try:
        code = compile(source, str(path), "exec")
    except SyntaxError as e:
        raise DesignerError(path, e.lineno, f"syntax error: {e.msg}") from e
    previous = sys.modules.get(module_name)
    sys.modules[module_name] = module  # dataclasses and typing look modules up by name
    try:
        exec(code, module.__dict__)
    except DesignerError:
        _restore(module_name, previous)
        raise
    except Exception as e:
        _restore(module_name, previous)
        raise DesignerError(path, _line_in(e, path), f"{type(e).__name__}: {e}") from e
    return module


def load_actions(folder: Path) -> dict[str, ActionSpec]:
    """Every action in `folder/*.py` (names starting with "_" are skipped), by action name."""
    actions: dict[str, ActionSpec] = {}
    for path in sorted(Path(folder).glob("*.py")):
        if path.name.startswith("_"):
            continue
        for name, spec in load_action_file(path).items():
            if name in actions:
                raise DesignerError(
                    path,
                    spec.line,
                    f"action '{name}' is already defined at {actions[name].source}",
                )
            actions[name] = spec
    return actions


async def run_action(spec: ActionSpec, arguments: Any, context: ActionContext | None) -> Any:
    """Validate `arguments`, then run the action (a plain function in a worker thread).

    Invalid arguments raise BridgeError code "bad-action"; an exception inside the action
    is raised as BridgeError code "internal", naming the action, from the original.
    """
    problems = validate(spec.parameters, arguments)
    if problems:
        raise BridgeError(f"action '{spec.name}': {'; '.join(problems)}", code=errors.BAD_ACTION)
    kwargs = dict(arguments)
    for param in inspect.signature(spec.fn).parameters.values():
        if param.name not in kwargs and param.default is param.empty:
            kwargs[param.name] = None  # an Optional parameter without a default
    if spec.wants_context:
        if context is None:
            raise BridgeError(f"action '{spec.name}' needs an ActionContext", code=errors.INTERNAL)
        kwargs[spec.context_param] = context
    try:
        if inspect.iscoroutinefunction(spec.fn):
            return await spec.fn(**kwargs)
        return await asyncio.to_thread(spec.fn, **kwargs)
    except Exception as e:
        where = f" ({spec.source})"
        raise BridgeError(
            f"action '{spec.name}' failed: {type(e).__name__}: {e}{where}", code=errors.INTERNAL
        ) from e


def _line_in(error: BaseException, path: Path) -> int | None:
    """The deepest line of `path` in the traceback: where the module failed."""
    line = None
    for frame in traceback.extract_tb(error.__traceback__):
        if frame.filename == str(path):
            line = frame.lineno
    return line if line is not None else getattr(error, "lineno", None)


def _restore(name: str, previous: types.ModuleType | None) -> None:
    if previous is None:
        sys.modules.pop(name, None)
    else:
        sys.modules[name] = previous
