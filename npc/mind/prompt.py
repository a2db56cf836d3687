"""What the model reads for one NPC turn: persona, actions, examples, memory, lore, steering.

The order keeps the expensive part reusable: the system message (persona, actions, rules)
and the example exchanges are the same turn after turn, so a backend with prefix reuse
evaluates them once; then the history; then the last message: first what is known before
the player speaks (summary, steer instructions, feelings), then the lore found for the
line, then the line. Everything before the lore can be evaluated while the player listens
to the previous reply (npc/mind/speculate.py).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from npc import steer
from npc.designer.persona import NpcFile
from npc.llm.base import ChatMessage, Decoding, LlmRequest
from npc.llm.segments import Head, Run
from npc.memory import TurnRecord
from npc.mind.reply import is_refusal

RULES = """\
Stay in character. Speak as {name} would, in plain spoken words: no lists, no markdown,
no stage directions. Reply with JSON: {{"action": {{"name": ...}}, "say": "<your words>"}}.
Most lines need no action: use {{"name": "none"}} for talk, questions about the world or
people, thanks and greetings, and for requests none of your actions does. Only when the
player asks you to do exactly what one of your actions below does, use it:
{{"name": "<action>", "arguments": {{...}}}}, and "say" what you say while doing it. Never
claim to do something you have no action for. Use what you know below; if you do not
know, say so."""


@dataclass(frozen=True, slots=True)
class Context:
    """The changing part of a turn's prompt."""

    lore: Sequence[str] = ()  # retrieved lore chunks, best first
    # Of the retrieved lore (the end of `lore`), each passage's title and sentences:
    # the pieces a backend may have kept (`lore_segments`).
    lore_parts: Sequence[tuple[str, ...]] = ()
    summary: str = ""  # the rolling summary of older turns with this player
    relationship: Mapping[str, int] | None = None
    history: Sequence[TurnRecord] = ()  # recent turns, oldest first (not the current one)
    player_name: str = ""
    # A group session: its recent lines as (name, text), oldest first, the NPC's own under
    # its name; `present` says who is here and who speaks now.
    group: Sequence[tuple[str, str]] = ()
    present: str = ""


def system_prompt(
    npc: NpcFile, actions: Mapping[str, dict[str, Any]], style: Sequence[str] = ()
) -> str:
    """Persona, rules and the action list: the stable head of every prompt for `npc`.

    `style` lines (the steer attributes in words) may go here too; the brain puts them in
    the player's turn instead, where the 0.5B model followed the persona better
    (measured: docs/benchmarks.md)."""
    parts = [npc.persona.strip(), RULES.format(name=npc.name)]
    if actions:
        lines = [_describe(name, tool) for name, tool in actions.items()]
        lines.insert(0, "- none(): just talk, do nothing in the game (most lines)")
        parts.append("Your actions:\n" + "\n".join(lines))
    else:
        parts.append('You have no actions: leave out "action".')
    if style:
        parts.append("How you speak now: " + " ".join(style))
    return "\n\n".join(parts)


def _describe(name: str, tool: dict[str, Any]) -> str:
    params = tool.get("parameters", {}).get("properties", {})
    args = []
    for arg, schema in params.items():
        kind = " | ".join(json.dumps(v) for v in schema["enum"]) if "enum" in schema else ""
        args.append(f"{arg}: {kind or schema.get('type', 'any')}")
    return f"- {name}({', '.join(args)}): {tool.get('description', '').strip()}"


def reply_json(say: str, action: str = "", arguments: Mapping[str, Any] | None = None) -> str:
    """A reply as the model should write it (for examples and history)."""
    call = {"name": action, "arguments": dict(arguments or {})} if action else {"name": "none"}
    return json.dumps({"action": call, "say": say}, ensure_ascii=False)


def chat(
    npc: NpcFile,
    actions: Mapping[str, dict[str, Any]],
    context: Context,
    text: str,
    attrs: Mapping[str, int],
) -> tuple[ChatMessage, ...]:
    """The chat messages for `npc` to answer the player's `text`."""
    turns = conversation(npc, actions, context, text, steer.instructions(attrs))
    return (
        ChatMessage("system", system_prompt(npc, actions)),
        *(ChatMessage("user" if role == "User" else "assistant", t) for role, t in turns),
    )


def conversation(
    npc: NpcFile,
    actions: Mapping[str, dict[str, Any]],
    context: Context,
    text: str,
    style: Sequence[str] = (),
) -> list[tuple[str, str]]:
    """(User|Assistant, content) turns after the system prompt: the NPC's examples of the
    actions this session has, the recent history, then the player's line in context."""
    turns: list[tuple[str, str]] = []
    for ex in npc.examples:
        if ex.action and ex.action not in actions:
            continue  # an example of an action this session does not have would mislead
        turns.append(("User", ex.player))
        turns.append(("Assistant", reply_json(ex.npc, ex.action, ex.arguments)))
    turns.extend(history_turns(context.history))
    if not (context.group or context.present):
        turns.append(("User", player_turn(context, text, style)))
        return turns
    turns.extend(group_turns(context.group, npc.name))
    turns.append(("User", player_turn(context, text, style)))
    return merged(turns)


def group_turns(lines: Sequence[tuple[str, str]], me: str) -> list[tuple[str, str]]:
    """A group session's lines as chat turns: the NPC's own are its replies, everyone
    else's come attributed ("Renn: ...") as the user's."""
    out: list[tuple[str, str]] = []
    for who, text in lines:
        if who == me and out:
            out.append(("Assistant", reply_json(text)))
        else:  # chat templates expect the user first: an opening line of its own is told
            out.append(("User", f"{who}: {text}"))
    return out


def merged(turns: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Consecutive turns of one role as one (chat templates alternate)."""
    out: list[tuple[str, str]] = []
    for role, content in turns:
        if out and out[-1][0] == role:
            out[-1] = (role, out[-1][1] + "\n" + content)
        else:
            out.append((role, content))
    return out


def history_turns(history: Sequence[TurnRecord]) -> list[tuple[str, str]]:
    """Past player and NPC turns as (User|Assistant, content); consecutive ones merge."""
    out: list[tuple[str, str]] = []
    for rec in history:
        if rec.role == "player":
            role, content = "User", rec.text
        elif rec.role == "npc":
            if is_refusal(rec.text):  # shown to the model, one refusal breeds the next
                continue
            meta = rec.meta or {}
            role, content = "Assistant", reply_json(
                rec.text, str(meta.get("action", "")), meta.get("arguments")
            )
        else:
            continue
        if out and out[-1][0] == role:
            joiner = " " if role == "User" else "\n"
            out[-1] = (role, out[-1][1] + joiner + content)
        else:
            out.append((role, content))
    if out and out[0][0] == "Assistant":
        out.pop(0)  # chat templates expect the user first after the examples
    return out


def player_turn(context: Context, text: str, style: Sequence[str] = ()) -> str:
    """The last user message: what the NPC knows right now, how to speak, then the line.

    What does not depend on the line comes first (`turn_notes`), so it can be evaluated
    before the line is known; then the lore found for the line, then the line."""
    notes = turn_notes(context, style)
    if context.lore:
        notes.append(LORE_LEAD + "\n" + "\n".join(f"- {c.strip()}" for c in context.lore))
    who = context.player_name or "Player"
    if not notes:
        return text
    return "\n\n".join([*notes, f"{who} says: {text}"])


LORE_LEAD = "What you know:"


def lore_segments(context: Context, style: Sequence[str] = ()) -> tuple[str, ...]:
    """The pieces of the last message's lore, in order, as `player_turn` writes them:
    its lead, then each passage's line start ("\n- <title>:") and sentences (" <s>")."""
    if not context.lore_parts or not context.lore:
        return ()
    lead = "\n\n" + LORE_LEAD if turn_notes(context, style) else LORE_LEAD
    out = [lead]
    for title, *said in context.lore_parts:
        out += [f"\n- {title}:", *(f" {s}" for s in said)]
    return tuple(out)


def lore_runs(chunks: Sequence[tuple[str, Sequence[str]]], head: Head = ()) -> list[Run]:
    """What a backend keeps of the lore (npc/llm/segments.py): the lead after a notes
    message or alone, then each chunk ((title, sentences)) read in its order; all after
    the chat messages `head` (an NPC's: `lore_head`), or none."""
    runs = [Run("", ("\n\n" + LORE_LEAD,), head), Run("", (LORE_LEAD,), head)]
    for title, said in chunks:
        runs.append(Run(LORE_LEAD, (f"\n- {title}:", *(f" {s}" for s in said)), head))
    return runs


def lore_head(npc: NpcFile, actions: Mapping[str, dict[str, Any]]) -> Head:
    """The messages `npc`'s lore is made after, as every prompt of it opens with them
    (with these actions): its system message and examples. Made after them, the lore
    reads closer to how a turn reads it than made after no head (docs/llm.md)."""
    return tuple((m.role, m.content) for m in chat(npc, actions, Context(), "", {})[:-1])


def turn_notes(context: Context, style: Sequence[str] = ()) -> list[str]:
    """The notes of the last user message that do not depend on the player's line, the
    likeliest to stay the same until the next turn first: the regard judged after a turn
    moves the feelings, so they come last."""
    notes = []
    if context.summary:
        notes.append(f"Earlier with this player: {context.summary.strip()}")
    if style:
        notes.append("How to speak: " + " ".join(style))
    if context.relationship:
        feel = ", ".join(f"{k} {v:+d}" for k, v in sorted(context.relationship.items()))
        notes.append(f"Your feelings toward this player (-100 to 100): {feel}")
    if context.present:
        notes.append(context.present)
    return notes


def chat_head(
    npc: NpcFile,
    actions: Mapping[str, dict[str, Any]],
    context: Context,
    attrs: Mapping[str, int],
) -> tuple[ChatMessage, ...]:
    """The part of the next turn's chat messages known before the player speaks: `chat`
    up to the history, then the last message's notes (`turn_notes`) as a message of its
    own. Its template closes that message where the real prompt goes on, so they share
    all its tokens but the last one or two (tests/test_mind_prompt.py checks it)."""
    messages = chat(npc, actions, context, "", attrs)
    notes = turn_notes(context, steer.instructions(attrs))
    if not notes:
        return messages[:-1]
    return (*messages[:-1], ChatMessage("user", "\n\n".join(notes)))


def steerlm(
    npc: NpcFile,
    actions: Mapping[str, dict[str, Any]],
    context: Context,
    text: str,
    attrs: Mapping[str, int],
) -> str:
    """The raw SteerLM prompt for a model trained on it: the attributes steer through the
    label line, so no style instructions go in the text."""
    turns = conversation(npc, actions, context, text)
    return steer.steerlm_prompt(system_prompt(npc, actions), list(turns), attrs)


FEELINGS = ("warmer", "same", "colder")  # how a player's line leaves the NPC
# Few-shot examples: asked cold, the 0.5B model called plain questions "colder"; with
# these it judged 11 of 14 other lines as labelled (docs/benchmarks.md).
_REGARD_SYSTEM = (
    "You judge how a line someone says changes how the listener feels about them. "
    "Questions, requests and small talk leave the listener the same."
)
_REGARD_EXAMPLES = (
    ("What time does the canteen open?", "same"),
    ("Thanks, that really helped me.", "warmer"),
    ("You're a lazy, worthless idiot.", "colder"),
    ("Can you fix my mech?", "same"),
    ("Great work, you're brilliant.", "warmer"),
    ("Shut up, nobody asked you.", "colder"),
    ("Tell me about the station.", "same"),
    ("You are amazing at your job.", "warmer"),
    ("See you tomorrow.", "same"),
)


def regard(line: str) -> LlmRequest:
    """Ask how the player's `line` leaves the listener: {"feeling": one of FEELINGS}.

    The NPC is not named, so every NPC shares the prompt's head (and its KV state)."""

    def ask(text: str) -> ChatMessage:
        return ChatMessage("user", f'The player says: "{text[:300]}"\nDoes this make the '
                                   "listener feel warmer, the same, or colder toward the player?")

    messages = [ChatMessage("system", _REGARD_SYSTEM)]
    for text, feeling in _REGARD_EXAMPLES:
        messages += [ask(text), ChatMessage("assistant", json.dumps({"feeling": feeling}))]
    schema = {"type": "object",
              "properties": {"feeling": {"type": "string", "enum": list(FEELINGS)}},
              "required": ["feeling"], "additionalProperties": False}
    return LlmRequest((*messages, ask(line)), schema=schema,
                      decoding=Decoding(max_tokens=12, temperature=0))


def summary(
    npc: NpcFile, before: str, turns: Sequence[tuple[str, str]], seed: int | None = None
) -> LlmRequest:
    """Ask for the rolling summary updated with `turns` ((role, text), oldest first):
    {"summary": "..."}; action turns are left out."""
    lines = "\n".join(f"{role}: {text}" for role, text in turns if role != "action")
    ask = (
        f"You are {npc.name}. Summary so far: {before or '(none)'}\n"
        f"New exchanges:\n{lines}\n"
        "Write the updated summary of what happened with this player, in at most three "
        "sentences, in the third person."
    )
    schema = {"type": "object", "properties": {"summary": {"type": "string"}},
              "required": ["summary"], "additionalProperties": False}
    return LlmRequest((ChatMessage("user", ask),), schema=schema,
                      decoding=Decoding(max_tokens=120, temperature=0.2, seed=seed))
