"""A turn's prompt: what does not depend on the line comes before the lore, and the head
warmed after a turn is, token for token, the start of the next turn's prompt."""

from __future__ import annotations

from typing import Any

import pytest

from npc import steer
from npc.designer.reload import Designs
from npc.llm.base import LlmRequest
from npc.llm.llama import LlamaCppLlm, common_prefix
from npc.memory import TurnRecord
from npc.mind import prompt
from npc.mind.acting import available
from sample_game import HERE

LINE = "When is the stores window open?"
LORE = ["The quartermaster's stores: The window opens at the second bell and shuts at the sixth."]


@pytest.fixture(scope="module")
def designs() -> Designs:
    return Designs.load(HERE / "npcs", HERE / "actions", HERE / "lore")


def history() -> list[TurnRecord]:
    said = [("player", "Morning, Ilse."), ("npc", "Morning. Papers first, pilot.")]
    return [TurnRecord(n, "quartermaster", "p", "s1", role, text, None, None, 0.0)
            for n, (role, text) in enumerate(said)]


def contexts() -> list[tuple[str, prompt.Context]]:
    """What the notes may hold: nothing, feelings (ending in a number), a summary."""
    return [
        ("nothing", prompt.Context(history=history())),
        ("feelings", prompt.Context(history=history(), relationship={"regard": 5})),
        ("summary", prompt.Context(history=history(), summary="The pilot came for cells.",
                                   relationship={"regard": -10})),
    ]


def test_the_notes_that_do_not_depend_on_the_line_come_before_its_lore() -> None:
    context = prompt.Context(lore=LORE, summary="The pilot came for cells.",
                             relationship={"regard": 5})
    text = prompt.player_turn(context, LINE, ["Speak in short sentences."])
    at = [text.index(s) for s in ("Earlier with this player", "How to speak",
                                  "Your feelings", "What you know", f"Player says: {LINE}")]
    assert at == sorted(at), text
    notes = prompt.turn_notes(context, ["Speak in short sentences."])
    assert text.startswith("\n\n".join(notes) + "\n\n")


def test_small_talk_without_notes_or_lore_is_the_line_alone() -> None:
    assert prompt.player_turn(prompt.Context(), "Hello there!") == "Hello there!"


@pytest.mark.parametrize("attrs", [{}, {"humor": 4, "verbosity": 1}])
def test_the_warmed_head_is_the_next_prompt_but_for_its_last_tokens(
    embedded_llm: LlamaCppLlm, designs: Designs, attrs: dict[str, Any]
) -> None:
    npc = designs.npcs["quartermaster"]
    actions = available(npc, designs.actions, [])
    full_attrs = steer.merge(npc.steer, attrs)
    for name, context in contexts():
        head = prompt.chat_head(npc, actions, context, full_attrs)
        assert head[-1].role == "user" and "Player says" not in head[-1].content
        warmed, _ = embedded_llm.tokens(LlmRequest(head))
        for lore in ([], LORE):
            real = prompt.chat(npc, actions, context_with(context, lore), LINE, full_attrs)
            tokens, _ = embedded_llm.tokens(LlmRequest(real))
            shared = common_prefix(warmed, tokens)
            # The template's end of a message ("<|im_end|>\n<|im_start|>assistant\n", 5
            # tokens) is not in the real prompt; at most one token of the notes is lost.
            assert len(warmed) - shared <= 6, (name, lore, len(warmed), shared)


def context_with(context: prompt.Context, lore: list[str]) -> prompt.Context:
    return prompt.Context(lore=lore, summary=context.summary,
                          relationship=context.relationship, history=context.history)
