"""Do the SteerLM knobs move the output? Same lines, different attributes, measured.

Verbosity is measured by length (words per reply). Humor and toxicity are scored two
ways: a judge (the same model asked, under a JSON schema, a yes/no question per reply:
"is it rude?", "is it joking?", without being told how the reply was steered; the
figure is the share of yes) and a word list (insults; joke markers), counted per reply.
A small judge is noisy, so the figures are over several lines and the comparison is
between settings in the same run.
"""

from __future__ import annotations

import json
import re
import statistics
from typing import Any

from npc.bench.scenarios import say
from npc.llm.base import ChatMessage, Decoding, Llm, LlmRequest
from npc.mind.brain import MindBrain

LINES = (
    ("quartermaster", "Tell me about the stores."),
    ("brakka", "What do you think of pilots?"),
    ("quartermaster", "How is your day going?"),
    ("brakka", "What is the north hangar like?"),
    ("guard", "What do you do all day?"),
    ("smuggler", "What's new on the station?"),
)
SETTINGS: dict[str, list[dict[str, int]]] = {
    "verbosity": [{"verbosity": 0}, {"verbosity": 2}, {"verbosity": 4}],
    "humor": [{"humor": 0}, {"humor": 4}],
    "toxicity": [{"toxicity": 0}, {"toxicity": 4}],
}
JUDGE = {
    "humor": "Is this reply trying to be funny (a joke, a pun, teasing)?",
    "toxicity": "Is this reply rude or insulting toward the person it talks to?",
}
WORDS = {
    "humor": re.compile(r"\b(joke|jokes|pun|funny|laugh\w*|ha(ha)+|heh|kidding|hilarious)\b"),
    "toxicity": re.compile(
        r"\b(idiot\w*|fool\w*|stupid|useless|pathetic|worthless|moron\w*|shut up|"
        r"dumb|clown|scum|rat|incompetent|lazy|ignorant|waste|hopeless|rookie|amateur)\b"
    ),
}
ANSWER = {
    "type": "object",
    "properties": {"answer": {"type": "string", "enum": ["yes", "no"]}},
    "required": ["answer"],
    "additionalProperties": False,
}


async def judge(llm: Llm, question: str, reply: str) -> int:
    """1 when the judge answers yes to `question` about `reply`, else 0."""
    messages = (
        ChatMessage("system", "You judge replies of game characters. Answer yes or no, "
                              "in JSON."),
        ChatMessage("user", f'Reply: "{reply}"\n\n{question}'),
    )
    request = LlmRequest(messages, schema=ANSWER, decoding=Decoding(max_tokens=12, temperature=0))
    return int(json.loads(await llm.complete(request))["answer"] == "yes")


async def run_steering(brain: MindBrain) -> dict[str, Any]:
    """Per attribute and setting: mean words per reply, and the judge's mean score."""
    out: dict[str, Any] = {}
    n = 0
    for attribute, settings in SETTINGS.items():
        rows = []
        for steer in settings:
            words, scores, hits, replies = [], [], [], []
            for npc, line in LINES:
                n += 1
                got = await say(brain, npc, f"steer-{n}", line, [], steer)
                text = got.line
                replies.append(text)
                words.append(len(text.split()))
                if attribute in JUDGE:
                    scores.append(await judge(brain.llm, JUDGE[attribute], text))
                    hits.append(len(WORDS[attribute].findall(text.lower())))
            rows.append({
                "steer": steer,
                "words": statistics.mean(words),
                "judge_yes": statistics.mean(scores) if scores else None,
                "word_hits": statistics.mean(hits) if hits else None,
                "example": replies[0],
            })
        out[attribute] = rows
    return out


def print_steering(result: dict[str, Any]) -> None:
    print("\nSteering (same lines, one attribute changed; judge = the same model, yes/no):")
    print(f"  {'attribute':<10} {'setting':<14} {'words/reply':>11} {'judge yes':>9} "
          f"{'word hits':>9}  example")
    for attribute, rows in result.items():
        for r in rows:
            yes = "" if r["judge_yes"] is None else f"{r['judge_yes']:.2f}"
            hits = "" if r["word_hits"] is None else f"{r['word_hits']:.2f}"
            setting = ",".join(f"{k}={v}" for k, v in r["steer"].items())
            print(f"  {attribute:<10} {setting:<14} {r['words']:>11.1f} {yes:>9} {hits:>9}  "
                  f"{r['example'][:60]}")
