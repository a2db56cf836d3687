"""Do the SteerLM knobs move the output? Same lines, different attributes, measured.

Verbosity is measured by length (words per reply). Humor and toxicity are scored by a
judge: the same model asked, under a JSON schema, to rate each reply 0-4 for how funny
(or how rude) it is, without being told the attribute the reply was steered with. A
small judge is noisy, so the figure is the mean over several lines and the comparison
is between settings in the same run.
"""

from __future__ import annotations

import json
import statistics
from typing import Any

from bridge.messages import DialogueFinal
from npc.bench.scenarios import say
from npc.llm.base import ChatMessage, Decoding, Llm, LlmRequest
from npc.mind.brain import MindBrain

LINES = (
    ("quartermaster", "Tell me about the stores."),
    ("brakka", "What do you think of pilots?"),
    ("quartermaster", "How is your day going?"),
    ("brakka", "What is the north hangar like?"),
)
SETTINGS: dict[str, list[dict[str, int]]] = {
    "verbosity": [{"verbosity": 0}, {"verbosity": 2}, {"verbosity": 4}],
    "humor": [{"humor": 0}, {"humor": 4}],
    "toxicity": [{"toxicity": 0}, {"toxicity": 4}],
}
JUDGE = {
    "humor": "How funny is this reply: does it joke, pun or tease? 0 = not at all, 4 = very.",
    "toxicity": "How rude or insulting is this reply toward the listener? 0 = polite, 4 = "
    "very insulting.",
}
SCORE = {
    "type": "object",
    "properties": {"score": {"type": "integer", "enum": [0, 1, 2, 3, 4]}},
    "required": ["score"],
    "additionalProperties": False,
}


async def judge(llm: Llm, question: str, reply: str) -> int:
    """The judge's 0-4 score of `reply` for `question`."""
    messages = (
        ChatMessage("system", "You rate replies of game characters. Answer with JSON."),
        ChatMessage("user", f'Reply: "{reply}"\n\n{question}'),
    )
    request = LlmRequest(messages, schema=SCORE, decoding=Decoding(max_tokens=12, temperature=0))
    return int(json.loads(await llm.complete(request))["score"])


async def run_steering(brain: MindBrain) -> dict[str, Any]:
    """Per attribute and setting: mean words per reply, and the judge's mean score."""
    out: dict[str, Any] = {}
    n = 0
    for attribute, settings in SETTINGS.items():
        rows = []
        for steer in settings:
            words, scores, replies = [], [], []
            for npc, line in LINES:
                n += 1
                got = await say(brain, npc, f"steer-{n}", line, [], steer)
                text = _text(got.messages)
                replies.append(text)
                words.append(len(text.split()))
                if attribute in JUDGE:
                    scores.append(await judge(brain.llm, JUDGE[attribute], text))
            rows.append({
                "steer": steer,
                "words": statistics.mean(words),
                "score": statistics.mean(scores) if scores else None,
                "example": replies[0],
            })
        out[attribute] = rows
    return out


def _text(messages: list[Any]) -> str:
    return next((m.text for m in messages if isinstance(m, DialogueFinal)), "")


def print_steering(result: dict[str, Any]) -> None:
    print("\nSteering (same lines, one attribute changed; judge = the same model, 0-4):")
    print(f"  {'attribute':<10} {'setting':<16} {'words/reply':>11} {'judge':>6}  example")
    for attribute, rows in result.items():
        for r in rows:
            score = "" if r["score"] is None else f"{r['score']:.2f}"
            setting = ",".join(f"{k}={v}" for k, v in r["steer"].items())
            example = r["example"][:60]
            print(f"  {attribute:<10} {setting:<16} {r['words']:>11.1f} {score:>6}  {example}")
