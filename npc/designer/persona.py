"""NPC files: one TOML file per character: persona, voice, steering, knowledge, actions."""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bridge.errors import BridgeError, DesignerError
from bridge.messages.limits import MAX_ID_LENGTH
from npc import steer
from npc.designer.actions import ActionSpec
from npc.designer.toml_lines import Key, error_line, line_of
from npc.designer.validate import validate
from npc.tts.base import PITCH_RANGE, SPEED_RANGE, Voice

KEYS = (
    "id",
    "name",
    "persona",
    "voice",
    "interruptible",
    "knowledge",
    "actions",
    "steer",
    "lines",
    "examples",
)
EXAMPLE_KEYS = ("player", "npc", "action", "arguments")
VOICE_KEYS = ("name", "speed", "pitch")
# What the NPC says when the brain has nothing better; NPC files override them in [lines].
LINE_DEFAULTS = {
    "action_failed": "Hm. That didn't work. Let me think of something else.",
    "no_answer": "I don't know anything about that.",
    "confused": "Sorry, I didn't catch that. Say again?",
    # said while the answer is on its way, when the game's [speech] acknowledge is on
    "acknowledge": "Hm.",
}
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True, slots=True)
class Example:
    """An example exchange for the prompt: what the player says, what the NPC answers, and
    the action (with its arguments) the NPC calls, if any."""

    player: str
    npc: str
    action: str = ""
    arguments: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class NpcFile:
    """One NPC as its designer wrote it; `steer` is complete (DEFAULTS with the file's values)."""

    id: str
    name: str
    persona: str
    path: Path
    voice: str = ""  # the TTS voice name (tts.name); "" for the TTS backend's default
    tts: Voice = field(default_factory=Voice)  # voice name, speed and pitch for speak()
    steer: dict[str, int] = field(default_factory=lambda: dict(steer.DEFAULTS))
    knowledge: tuple[str, ...] = ()  # lore tags this NPC knows about
    actions: tuple[str, ...] = ()  # Python actions it may call
    examples: tuple[Example, ...] = ()
    interruptible: bool = True  # false: the player cannot talk over its lines
    lines: dict[str, str] = field(default_factory=lambda: dict(LINE_DEFAULTS))


def load_npc(path: Path | str) -> NpcFile:
    """Read and check one NPC file; any problem is a DesignerError naming the line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise DesignerError(path, None, f"cannot read: {e}") from e
    return parse_npc(path, text)


def parse_npc(path: Path, text: str) -> NpcFile:
    """`load_npc` on text already read from `path`."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        line, message = error_line(e, text)
        raise DesignerError(path, line, f"TOML syntax: {message}") from e
    return _Reader(path, text).npc(data)


def load_npcs(folder: Path | str) -> list[NpcFile]:
    """Every `*.toml` in `folder` not starting with "_", by file name; one id twice is an error."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DesignerError(folder, None, "NPC folder does not exist")
    npcs: list[NpcFile] = []
    for path in sorted(folder.glob("*.toml")):
        if path.name.startswith("_"):
            continue  # drafts and templates
        npc = load_npc(path)
        check_unique(npc, npcs)
        npcs.append(npc)
    if not npcs:
        raise DesignerError(folder, None, "no NPC files (*.toml)")
    return npcs


def check_unique(npc: NpcFile, others: list[NpcFile]) -> None:
    """Refuse `npc` when another file already uses its id."""
    for other in others:
        if other.id == npc.id and other.path != npc.path:
            line = (
                line_of(npc.path.read_text(encoding="utf-8"), "id") if npc.path.exists() else None
            )
            raise DesignerError(npc.path, line, f"id '{npc.id}' is already used by {other.path}")


def check_voice(npc: NpcFile, text: str, check: Callable[[Voice], None]) -> None:
    """Refuse an NPC whose voice the TTS backend cannot speak; `check` is `Tts.check`."""
    try:
        check(npc.tts)
    except BridgeError as e:
        raise DesignerError(npc.path, line_of(text, "voice", "name"), e.reason) from e


def check_actions(
    npc: NpcFile, text: str, actions: Mapping[str, ActionSpec], folder: object
) -> None:
    """Refuse an NPC naming a Python action `folder` does not define, or an example calling
    a Python action with arguments that do not fit (engine actions are known per session)."""
    for name in npc.actions:
        if name not in actions:
            raise DesignerError(
                npc.path, line_of(text, "actions"), f"action '{name}' is not defined in {folder}"
            )
    for i, example in enumerate(npc.examples):
        spec = actions.get(example.action)
        if spec is None:
            continue
        line = line_of(text, "examples", i, "action")
        if spec.name not in npc.actions:
            reason = f"example {i + 1} calls '{spec.name}', which is not in this NPC's `actions`"
            raise DesignerError(npc.path, line, reason)
        problems = validate(spec.parameters, example.arguments)
        if problems:
            line = line_of(text, "examples", i, "arguments")
            reason = f"example {i + 1}: arguments for '{spec.name}': {'; '.join(problems)}"
            raise DesignerError(npc.path, line, reason)


class _Reader:
    """Checks the parsed TOML of one file, failing at the line of the offending key."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.text = text

    def fail(self, reason: str, *where: Key) -> DesignerError:
        return DesignerError(self.path, line_of(self.text, *where) if where else None, reason)

    def npc(self, data: dict[str, Any]) -> NpcFile:
        self.known(data, KEYS)
        for key in ("id", "name", "persona"):
            if key not in data:
                raise self.fail(f'missing `{key} = "..."`')
        npc_id = self.string(data, "id")
        if not _ID.match(npc_id) or len(npc_id) > MAX_ID_LENGTH:
            raise self.fail(
                f"id '{npc_id}' must start with a letter or digit and use only letters, "
                f"digits, '_', '.', '-' (at most {MAX_ID_LENGTH})",
                "id",
            )
        tts = self.voice(data)
        return NpcFile(
            id=npc_id,
            name=self.string(data, "name"),
            persona=self.string(data, "persona"),
            path=self.path,
            voice=tts.name,
            tts=tts,
            steer=self.steer(data.get("steer", {})),
            knowledge=self.strings(data, "knowledge"),
            actions=self.strings(data, "actions"),
            examples=self.examples(data.get("examples", [])),
            interruptible=self.boolean(data, "interruptible", True),
            lines=self.lines(data.get("lines", {})),
        )

    def known(self, table: dict[str, Any], keys: tuple[str, ...], *where: Key) -> None:
        for key in table:
            if key not in keys:
                close = difflib.get_close_matches(key, keys, n=1, cutoff=0.6)
                hint = f" (did you mean '{close[0]}'?)" if close else f"; known: {', '.join(keys)}"
                raise self.fail(f"unknown key '{key}'{hint}", *where, key)

    def string(self, table: dict[str, Any], key: str, *where: Key, empty_ok: bool = False) -> str:
        value = table.get(key)
        if not isinstance(value, str):
            raise self.fail(f"`{key}` must be a string, got {_kind(value)}", *where, key)
        if not value.strip() and not empty_ok:
            raise self.fail(f"`{key}` must not be empty", *where, key)
        return value.strip()

    def strings(self, table: dict[str, Any], key: str) -> tuple[str, ...]:
        value = table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.fail(f'`{key}` must be a list of strings, like ["a", "b"]', key)
        return tuple(dict.fromkeys(value))

    def boolean(self, table: dict[str, Any], key: str, default: bool) -> bool:
        value = table.get(key, default)
        if not isinstance(value, bool):
            raise self.fail(f"`{key}` must be true or false, got {_kind(value)}", key)
        return value

    def table(self, value: Any, key: str, *where: Key) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(f"`{key}` must be a table, got {_kind(value)}", *where, key)
        return value

    def steer(self, value: Any) -> dict[str, int]:
        table = self.table(value, "steer")
        self.known(table, steer.ATTRIBUTES, "steer")
        for name, level in table.items():
            try:
                steer.merge(steer.DEFAULTS, {name: level})
            except BridgeError as e:
                raise self.fail(e.reason, "steer", name) from e
        return steer.merge(steer.DEFAULTS, table)

    def voice(self, data: dict[str, Any]) -> Voice:
        """`voice = "name"`, or a [voice] table of name, speed and pitch."""
        value = data.get("voice", "")
        if isinstance(value, str):
            return Voice(self.string(data, "voice", empty_ok=True) if "voice" in data else "")
        if not isinstance(value, dict):
            raise self.fail(
                f'`voice` must be a name ("joe-us") or a [voice] table, got {_kind(value)}',
                "voice",
            )
        self.known(value, VOICE_KEYS, "voice")
        name = self.string(value, "name", "voice", empty_ok=True) if "name" in value else ""
        speed = self.voice_number(value, "speed", SPEED_RANGE, 1.0)
        pitch = self.voice_number(value, "pitch", PITCH_RANGE, 0.0)
        return Voice(name, speed, pitch)

    def voice_number(
        self, table: dict[str, Any], key: str, limits: tuple[float, float], default: float
    ) -> float:
        value, (low, high) = table.get(key, default), limits
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if not number or not low <= value <= high:
            got = f"{value:g}" if number else _kind(value)
            reason = f"voice `{key}` must be a number {low:g} to {high:g}, got {got}"
            raise self.fail(reason, "voice", key)
        return float(value)

    def lines(self, value: Any) -> dict[str, str]:
        table = self.table(value, "lines")
        self.known(table, tuple(LINE_DEFAULTS), "lines")
        return {key: self.string(table, key, "lines") for key in table} | {
            key: line for key, line in LINE_DEFAULTS.items() if key not in table
        }

    def examples(self, value: Any) -> tuple[Example, ...]:
        if not isinstance(value, list):
            raise self.fail("`examples` must be a list of [[examples]] tables", "examples")
        examples = []
        for i, item in enumerate(value):
            where: tuple[Key, ...] = ("examples", i)
            entry = self.table(item, f"examples[{i}]", *where[:1])
            self.known(entry, EXAMPLE_KEYS, *where)
            for key in ("player", "npc"):
                if key not in entry:
                    raise self.fail(f'example {i + 1} is missing `{key} = "..."`', *where)
            action = self.string(entry, "action", *where) if "action" in entry else ""
            arguments = self.table(entry.get("arguments", {}), "arguments", *where)
            if arguments and not action:
                raise self.fail(f"example {i + 1} has `arguments` but no `action`", *where)
            examples.append(
                Example(
                    self.string(entry, "player", *where),
                    self.string(entry, "npc", *where, empty_ok=True),
                    action,
                    arguments,
                )
            )
        return tuple(examples)


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    names = {bool: "true/false", int: "an integer", float: "a number", str: "a string"}
    names |= {list: "a list", dict: "a table"}
    return names.get(type(value), f"a {type(value).__name__}")
