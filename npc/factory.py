"""Build the brain named in the config's [brain] table."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from bridge.errors import ConfigError
from bridge.seam import Brain
from npc.roster import load_roster

if TYPE_CHECKING:
    from npc.mind.brain import MindBrain

BRAINS = ("mind", "echo")
SPEECH_KEYS = {"tts", "tts_options", "fps", "face", "head", "acknowledge"}
MIND_KEYS = {
    "kind", "npcs_dir", "lore_dir", "actions_dir", "state_dir", "llm", "lore_k", "history_turns",
    "lore_min_score", "lore_words",
    "action_timeout_s", "reload_s", "max_tokens", "temperature", "seed", "steer_log",
    "scripts_dir", "speculate", "request_lore",
}
SCRIPT_KEYS = {"timeout_s", "wait_s", "intent_threshold"}


def build_brain(config: dict[str, Any], base: Path) -> Brain:
    """`[brain] kind = "mind"` (the thinking NPCs) or "echo"; paths are relative to the config.

    A `[hearing]` table gives it ears (VAD + speech recognition, see npc/ears.py); the
    thinking brain speaks as `[speech]` says (docs/speaking.md): piper unless tts = "none".
    """
    table = config.get("brain", {})
    kind = table.get("kind", "mind")
    if kind not in BRAINS:
        raise ConfigError(f"[brain] kind '{kind}' is unknown; known: {', '.join(BRAINS)}")
    if kind == "mind":
        voices = _voices(config.get("speech", {}))
        mind = _mind(table, base, config.get("hearing"), voices)
        mind.scripts = _scripts(table, config.get("scripts", {}), base)
        return mind
    roster = load_roster(base / table.get("npcs_dir", "npcs"))
    ears = _ears(config.get("hearing"))
    from npc.echo import EchoBrain

    return EchoBrain(roster, ears)


def _ears(hearing: dict[str, Any] | None) -> Any:
    if hearing is None:
        return None
    from npc.ears import build_ears

    return build_ears(hearing)


def _voices(table: dict[str, Any]) -> Any:
    """The `[speech]` table: tts backend and its options, face frame rate, head channels."""
    from npc.speaking import SpeechOptions, Voices
    from npc.tts.registry import build_tts

    unknown = sorted(set(table) - SPEECH_KEYS)
    if unknown:
        raise ConfigError(f"[speech] has unknown keys: {', '.join(unknown)}; "
                          f"known: {', '.join(sorted(SPEECH_KEYS))}")
    name = table.get("tts", "piper")
    if name == "none":
        return None
    fps = table.get("fps", 60)
    if fps not in (30, 60):
        raise ConfigError(f"[speech] fps must be 30 or 60, got {fps!r}")
    for key in ("face", "head", "acknowledge"):
        if not isinstance(table.get(key, True), bool):
            raise ConfigError(f"[speech] {key} must be true or false, got {table[key]!r}")
    tts_options = dict(table.get("tts_options", {}))
    options = SpeechOptions(fps=fps, face=table.get("face", True), head=table.get("head", True),
                            acknowledge=table.get("acknowledge", False))
    return Voices(lambda: build_tts(name, tts_options), options)


def _scripts(brain: dict[str, Any], table: dict[str, Any], base: Path) -> Any:
    """The behaviour scripts in `[brain] scripts_dir` (default "scripts", if it exists),
    with the `[scripts]` table's settings (docs/scripting.md)."""
    from npc.script.loader import ScriptOptions, Scripts

    unknown = sorted(set(table) - SCRIPT_KEYS)
    if unknown:
        raise ConfigError(f"[scripts] has unknown keys: {', '.join(unknown)}; "
                          f"known: {', '.join(sorted(SCRIPT_KEYS))}")
    values = {}
    for key in sorted(SCRIPT_KEYS):
        value = table.get(key, getattr(ScriptOptions(), key))
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise ConfigError(f"[scripts] {key} must be a number > 0, got {value!r}")
        values[key] = float(value)
    folder = base / brain.get("scripts_dir", "scripts")
    if "scripts_dir" not in brain and not folder.is_dir():
        return None
    return Scripts.load(folder, ScriptOptions(**values))


def _mind(
    table: dict[str, Any], base: Path, hearing: dict[str, Any] | None, voices: Any
) -> MindBrain:
    from npc.designer.reload import Designs
    from npc.llm import build_llm
    from npc.memory import Memory
    from npc.mind.brain import MindBrain, MindOptions
    from npc.rag import relevance
    from npc.steer import SteerLog

    unknown = sorted(set(table) - MIND_KEYS)
    if unknown:
        raise ConfigError(f"[brain] has unknown keys: {', '.join(unknown)}; "
                          f"known: {', '.join(sorted(MIND_KEYS))}")
    lore = base / table.get("lore_dir", "lore")
    designs = Designs.load(
        base / table.get("npcs_dir", "npcs"),
        base / table.get("actions_dir", "actions"),
        lore if lore.is_dir() else None,
    )
    state = base / table.get("state_dir", "state")
    options = MindOptions(
        lore_k=_int(table, "lore_k", 3),
        lore_min_score=float(table.get("lore_min_score", relevance.MIN_SCORE)),
        lore_words=_int(table, "lore_words", relevance.LORE_WORDS),
        history_turns=_int(table, "history_turns", 6),
        action_timeout_s=float(table.get("action_timeout_s", 8.0)),
        reload_s=float(table.get("reload_s", 1.0)),
        max_tokens=_int(table, "max_tokens", 200),
        temperature=float(table.get("temperature", 0.6)),
        seed=table.get("seed"),
        cache_dir=state / "cache",
        speculate=_bool(table, "speculate", True),
        request_lore=_bool(table, "request_lore", False),
    )
    llm_table = dict(table.get("llm", {}))
    steer_log = table.get("steer_log", "steerlm.jsonl")
    return MindBrain(
        designs,
        lambda: build_llm(llm_table, base),
        Memory(state / "memory.sqlite3"),
        options=options,
        ears=_ears(hearing),
        voices=voices,
        steer_log=SteerLog(state / steer_log) if steer_log else None,
    )


def _bool(table: dict[str, Any], key: str, default: bool) -> bool:
    value = table.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(f"[brain] {key} must be true or false, got {value!r}")
    return value


def _int(table: dict[str, Any], key: str, default: int) -> int:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"[brain] {key} must be a whole number >= 0, got {value!r}")
    return value
