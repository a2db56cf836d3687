"""Python actions: schema from type hints and docstrings, validation, context, loading, running."""

from __future__ import annotations

import asyncio
import textwrap
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import pytest

from bridge.errors import BridgeError, DesignerError
from npc.designer import ActionContext, Range, action, load_actions, run_action, validate
from npc.designer.actions import Length, load_action_file, spec_of


@action
def paint_mech(
    ctx: ActionContext,
    color: Literal["red", "blue", "olive"],
    coats: Annotated[int, Range(1, 5)] = 1,
    rush: bool = False,
) -> str:
    """Repaint the player's mech
    in one colour.

    Longer notes for the designer that the model does not need.

    Args:
        color: The new colour.
        coats (int): How many coats of paint;
            more take longer.
        rush: Skip the drying time.

    Returns:
        What the mechanic says about it.
    """
    ctx.change_relationship("trust", 1)
    return f"{color} x{coats} for {ctx.player}{' (rushed)' if rush else ''}"


def test_schema_comes_from_type_hints_and_docstring() -> None:
    spec = spec_of(paint_mech)
    assert spec is not None
    assert spec.name == "paint_mech"
    assert spec.description == "Repaint the player's mech in one colour."
    assert spec.wants_context and spec.context_param == "ctx"
    assert spec.parameters == {
        "type": "object",
        "properties": {
            "color": {
                "type": "string",
                "enum": ["red", "blue", "olive"],
                "description": "The new colour.",
            },
            "coats": {
                "type": "integer",
                "minimum": 1,
                "maximum": 5,
                "description": "How many coats of paint; more take longer.",
                "default": 1,
            },
            "rush": {"type": "boolean", "description": "Skip the drying time.", "default": False},
        },
        "required": ["color"],
        "additionalProperties": False,
    }
    assert spec.source.endswith(f"{Path(__file__).name}:{spec.fn.__code__.co_firstlineno}")
    assert spec.tool() == {
        "type": "function",
        "function": {
            "name": "paint_mech",
            "description": spec.description,
            "parameters": spec.parameters,
        },
    }


def test_overrides_optionals_lists_and_text_bounds() -> None:
    @action(name="order-parts", description="Order spare parts from the stores.")
    async def order(
        items: Annotated[list[str], Length(1, 3)],
        note: Annotated[str, "A note for Ilse.", Length(maximum=40)] | None = None,
        urgency: float | None = None,
    ) -> list[str]:
        return items

    spec = spec_of(order)
    assert spec is not None
    assert (spec.name, spec.description, spec.wants_context) == (
        "order-parts",
        "Order spare parts from the stores.",
        False,
    )
    props = spec.parameters["properties"]
    assert props["items"] == {
        "type": "array",
        "items": {"type": "string"},
        "minItems": 1,
        "maxItems": 3,
    }
    assert props["note"] == {
        "anyOf": [
            {"type": "string", "description": "A note for Ilse.", "maxLength": 40},
            {"type": "null"},
        ],
        "default": None,
    }
    assert props["urgency"] == {"anyOf": [{"type": "number"}, {"type": "null"}], "default": None}
    assert spec.parameters["required"] == ["items"]


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("def f(x):\n    pass", "parameter 'x' needs a type hint"),
        ("def f(x: set[int]):\n    pass", r"type set\[int\] is not supported"),
        ("def f(*names: str):\n    pass", "named parameters only"),
        ("def f(x: Annotated[str, Range(1, 2)]):\n    pass", "Range bounds a number"),
        ("def f(x: Nope):\n    pass", "do not resolve"),
    ],
)
def test_a_signature_that_cannot_be_a_schema_names_the_def(
    tmp_path: Path, source: str, reason: str
) -> None:
    path = tmp_path / "bad.py"
    header = "from typing import Annotated\nfrom npc.designer import action, Range\n\n"
    path.write_text(header + "@action\n" + source + "\n", encoding="utf-8")
    with pytest.raises(DesignerError, match=reason) as caught:
        load_action_file(path)
    assert caught.value.line == 4  # the decorator's line
    assert caught.value.path == str(path.resolve())


def test_validation_errors_are_readable() -> None:
    spec = spec_of(paint_mech)
    assert spec is not None
    assert validate(spec.parameters, {"color": "red"}) == []
    assert validate(spec.parameters, {"color": "pink", "coats": 9, "rush": "yes", "x": 1}) == [
        'color: "pink" is not one of "red", "blue", "olive"',
        "coats: 9 is above the maximum 5",
        "rush: expected boolean, got string",
        "x: is not an allowed property (allowed: color, coats, rush)",
    ]
    assert validate(spec.parameters, {"coats": 0}) == [
        "color: is required",
        "coats: 0 is below the minimum 1",
    ]
    assert validate(spec.parameters, {"color": "red", "coats": True}) == [
        "coats: expected integer, got boolean"
    ]
    assert validate(spec.parameters, ["red"]) == ["value: expected object, got array"]


def test_validation_of_what_engines_declare() -> None:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {
            "kind": {"const": "cells"},
            "names": {"type": "array", "items": {"type": "string", "minLength": 2}, "maxItems": 2},
            "target": {"anyOf": [{"type": "string"}, {"type": "integer", "minimum": 0}]},
            "where": {"type": "object", "properties": {"bay": {"type": ["integer", "null"]}}},
        },
    }
    good = {"kind": "cells", "names": ["ab"], "target": 3, "where": {"bay": None}, "more": 1}
    assert validate(schema, good) == []
    bad = {"kind": "pump", "names": ["a", "bc", "de"], "target": -1, "where": {"bay": "7"}}
    assert validate(schema, bad) == [
        'kind: must be "cells", got "pump"',
        "names: takes at most 2 items, got 3",
        'names[0]: "a" is shorter than 2 characters',
        "target: matches none of the allowed forms (value: expected string, got integer)",
        "where.bay: expected integer or null, got string",
    ]


@dataclass
class FakeContext:
    """Stands in for the brain's ActionContext, recording what actions do through it."""

    npc: str = "brakka"
    player: str = "p1"
    session: str = "s1"
    changes: list[tuple[str, int]] = field(default_factory=list)
    memories: list[str] = field(default_factory=list)

    def relationship(self) -> dict[str, int]:
        return dict(self.changes)

    def change_relationship(self, key: str, delta: int) -> int:
        self.changes.append((key, delta))
        return delta

    def remember(self, text: str) -> None:
        self.memories.append(text)


def test_run_action_injects_the_context_and_runs_plain_functions_in_a_thread() -> None:
    threads: list[threading.Thread] = []

    @action
    def where(ctx: ActionContext) -> str:
        """Say which thread ran."""
        threads.append(threading.current_thread())
        ctx.remember("asked where")
        return ctx.npc

    spec, ctx = spec_of(paint_mech), FakeContext()
    assert spec is not None
    out = asyncio.run(run_action(spec, {"color": "olive", "coats": 2, "rush": True}, ctx))
    assert out == "olive x2 for p1 (rushed)"
    assert ctx.changes == [("trust", 1)]
    where_spec = spec_of(where)
    assert where_spec is not None and where_spec.parameters["properties"] == {}
    assert asyncio.run(run_action(where_spec, {}, ctx)) == "brakka"
    assert threads and threads[0] is not threading.main_thread()
    assert ctx.memories == ["asked where"]


def test_run_action_awaits_async_actions_and_fills_optionals() -> None:
    @action
    async def count_cells(bay: int, label: str | None) -> dict[str, Any]:
        """Count the power cells in a bay."""
        await asyncio.sleep(0)
        return {"bay": bay, "label": label, "cells": 2 * bay}

    spec = spec_of(count_cells)
    assert spec is not None and spec.parameters["required"] == ["bay"]
    result = asyncio.run(run_action(spec, {"bay": 7}, None))
    assert result == {"bay": 7, "label": None, "cells": 14}


def test_run_action_refuses_bad_arguments_and_wraps_failures() -> None:
    @action
    def explode(times: int) -> None:
        """Fail on purpose."""
        raise RuntimeError(f"boom x{times}")

    spec = spec_of(paint_mech)
    assert spec is not None
    with pytest.raises(BridgeError) as bad:
        asyncio.run(run_action(spec, {"color": "pink"}, FakeContext()))
    assert bad.value.code == "bad-action"
    assert 'color: "pink" is not one of' in str(bad.value)
    with pytest.raises(BridgeError) as missing:
        asyncio.run(run_action(spec, {"color": "red"}, None))
    assert "needs an ActionContext" in str(missing.value)

    boom = spec_of(explode)
    assert boom is not None
    with pytest.raises(BridgeError) as failed:
        asyncio.run(run_action(boom, {"times": 2}, None))
    assert failed.value.code == "internal"
    assert "action 'explode' failed: RuntimeError: boom x2" in str(failed.value)
    assert isinstance(failed.value.__cause__, RuntimeError)


def write(path: Path, source: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source).lstrip(), encoding="utf-8")
    return path


HANGAR = """
    from __future__ import annotations

    from typing import Literal

    from npc.designer import ActionContext, action


    def helper() -> int:
        return 1


    @action
    def paint_mech(ctx: ActionContext, color: Literal["red", "blue"]) -> str:
        '''Repaint the player's mech.'''
        return f"painted {color}"


    @action(name="quote")
    def quote_price(part: str) -> int:
        '''Quote a price for a part.'''
        return 120
"""


def test_load_actions_collects_every_module_in_a_folder(tmp_path: Path) -> None:
    write(tmp_path / "hangar.py", HANGAR)
    write(tmp_path / "_private.py", "raise RuntimeError('never imported')\n")
    (tmp_path / "stores.py").write_text(
        "from npc.designer import action\n\n@action\ndef give(item: str) -> str:\n"
        "    '''Hand an item over.'''\n    return item\n",
        encoding="utf-8",
    )
    actions = load_actions(tmp_path)
    assert sorted(actions) == ["give", "paint_mech", "quote"]
    assert actions["paint_mech"].parameters["properties"]["color"]["enum"] == ["red", "blue"]
    assert actions["quote"].source.endswith("hangar.py:18")
    assert not (tmp_path / "__pycache__").exists()  # no stale bytecode next to the designer's


def test_same_file_name_in_two_folders_are_two_modules(tmp_path: Path) -> None:
    one = load_action_file(write(tmp_path / "a" / "shop.py", HANGAR))
    other_source = HANGAR.replace("painted", "repainted")
    two = load_action_file(write(tmp_path / "b" / "shop.py", other_source))
    assert one["paint_mech"].fn.__module__ != two["paint_mech"].fn.__module__
    assert one["paint_mech"].fn(None, "red") == "painted red"
    assert two["paint_mech"].fn(None, "red") == "repainted red"


@pytest.mark.parametrize(
    ("source", "line", "reason"),
    [
        ("x = 1\ndef broken(:\n    pass\n", 2, "syntax error"),
        ("import os\n\nvalue = 1 / 0\n", 3, "ZeroDivisionError: division by zero"),
        ("def f():\n    raise KeyError('k')\n\nf()\n", 2, "KeyError: 'k'"),
        ("import no_such_module_here\n", 1, "ModuleNotFoundError"),
    ],
)
def test_a_module_that_fails_to_import_is_a_designer_error_with_its_line(
    tmp_path: Path, source: str, line: int, reason: str
) -> None:
    path = write(tmp_path / "broken.py", source)
    with pytest.raises(DesignerError, match=reason) as caught:
        load_actions(tmp_path)
    assert (caught.value.path, caught.value.line) == (str(path.resolve()), line)
    assert str(caught.value).startswith(f"{path.resolve()}:{line}: ")


def test_two_actions_with_one_name_are_refused(tmp_path: Path) -> None:
    write(tmp_path / "a.py", HANGAR)
    write(
        tmp_path / "b.py",
        "from npc.designer import action\n\n@action\ndef paint_mech() -> None:\n    '''Again.'''\n",
    )
    with pytest.raises(DesignerError, match=r"'paint_mech' is already defined at .*a\.py:12") as e:
        load_actions(tmp_path)
    assert e.value.line == 3
    twice = "\n@action(name='paint_mech')\ndef again() -> None:\n    '''Twice.'''\n"
    (tmp_path / "a.py").write_text(textwrap.dedent(HANGAR) + twice, encoding="utf-8")
    (tmp_path / "b.py").unlink()
    with pytest.raises(DesignerError, match="also defined"):
        load_actions(tmp_path)
