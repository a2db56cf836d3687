"""Do the SteerLM knobs move the output? Same lines, different attributes, measured.

Verbosity is measured by length (words per reply). Toxicity and humor are scored three
ways, per reply: a classifier that knows nothing of the steering (alt-profanity-check, a
scikit-learn model shipped inside its PyPI package: the share of replies it finds
offensive, probability > 0.5; optional, `pip install alt-profanity-check`), a judge (the
same model asked, under a JSON schema, a yes/no question: "is it rude?", "is it joking?",
without being told how the reply was steered; the share of yes), and a word list
(insults; joke markers: it overlaps the steering vocabulary, so it is a secondary
figure). A small judge is noisy, so the figures are over several lines and the
comparison is between settings in the same run.

`run_regard` scores the judgement that lets the player's words move an NPC's regard
(npc/mind/prompt.py `regard`) on lines labelled by hand, none of them its examples.
"""

from __future__ import annotations

import importlib
import json
import re
import statistics
from typing import Any

from npc.bench.scenarios import say
from npc.llm.base import ChatMessage, Decoding, Llm, LlmRequest
from npc.mind import prompt
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
    "humor": [{"humor": 0}, {"humor": 2}, {"humor": 4}],
    "toxicity": [{"toxicity": 0}, {"toxicity": 2}, {"toxicity": 4}],
}
# The judge's question per attribute, and replies it should say yes to; each is followed by
# a plain one it should say no to. Asked cold, it said "no" to everything; with these
# examples (none using the steering vocabulary or openers) it tells jokes apart.
_PLAIN = (
    "The cargo lift is on deck 3, past the fuel lines.",
    "We close at the second watch. Come back tomorrow.",
    "Two power cells cost forty credits.",
)
JUDGE: dict[str, tuple[str, tuple[str, ...]]] = {
    "humor": ("Is this reply trying to be funny?", (
        "Why did the engineer bring a ladder to the bar? The drinks were on the house.",
        "My mech has more rust than my jokes, and that's saying something.",
        "Sure, I'll fix it, right after I teach a toaster to sing.",
    )),
    "toxicity": ("Is this reply rude or insulting?", (
        "Get lost, you worthless grease monkey.",
        "Only a brainless fool would ask me that.",
        "You're a pathetic excuse for a pilot.",
    )),
}
WORDS = {
    "humor": re.compile(r"\b(joke|jokes|pun|funny|laugh\w*|ha(ha)+|heh|kidding|hilarious)\b"),
    "toxicity": re.compile(
        r"\b(idiot\w*|fool\w*|stupid|useless|pathetic|worthless|moron\w*|shut up|"
        r"dumb|clown|scum|rat|incompetent|lazy|ignorant|waste|hopeless|rookie|amateur)\b"
    ),
}
REGARD_LINES = (
    ("You are a useless, stupid old fool. I hate you.", "colder"),
    ("Thank you so much, you have been really kind.", "warmer"),
    ("Where is the north hangar?", "same"),
    ("Shut up and give me the parts, idiot.", "colder"),
    ("You're the best quartermaster on the station!", "warmer"),
    ("I think your prices are a scam.", "colder"),
    ("Nice weather on the station today.", "same"),
    ("I'll come back later.", "same"),
    ("How much for a power cell?", "same"),
    ("Open the cargo lift.", "same"),
    ("Hello.", "same"),
    ("Get out of my way.", "colder"),
    ("I brought you some coffee.", "warmer"),
    ("Who runs the docks?", "same"),
)
ANSWER = {
    "type": "object",
    "properties": {"answer": {"type": "string", "enum": ["yes", "no"]}},
    "required": ["answer"],
    "additionalProperties": False,
}


def offensive(texts: list[str]) -> list[float] | None:
    """alt-profanity-check's probability that each text is offensive; None if not installed."""
    try:  # imported by name: the package ships no type hints
        classifier = importlib.import_module("profanity_check")
    except ImportError:
        return None
    return [float(p) for p in classifier.predict_prob(texts)]


async def judge(llm: Llm, attribute: str, reply: str) -> int:
    """1 when the judge answers yes to the attribute's question about `reply`, else 0."""
    question, yes = JUDGE[attribute]

    def ask(text: str) -> ChatMessage:
        return ChatMessage("user", f'Reply: "{text}"\n{question}')

    messages = [ChatMessage("system", "You judge lines said by game characters. Answer yes "
                                      "or no, in JSON.")]
    for funny_or_rude, plain in zip(yes, _PLAIN, strict=True):
        for text, answer in ((funny_or_rude, "yes"), (plain, "no")):
            messages += [ask(text), ChatMessage("assistant", json.dumps({"answer": answer}))]
    request = LlmRequest((*messages, ask(reply)), schema=ANSWER,
                         decoding=Decoding(max_tokens=12, temperature=0))
    return int(json.loads(await llm.complete(request))["answer"] == "yes")


async def run_steering(brain: MindBrain) -> dict[str, Any]:
    """Per attribute and setting: mean words per reply, the classifier's offensive share,
    the judge's yes share and the word list's hits per reply; then "regard": the regard
    judgement's score (`run_regard`)."""
    out: dict[str, Any] = {}
    n = 0
    for attribute, settings in SETTINGS.items():
        rows = []
        for steer in settings:
            scores, hits, replies = [], [], []
            for npc, line in LINES:
                n += 1
                text = (await say(brain, npc, f"steer-{n}", line, [], steer)).line
                replies.append(text)
                if attribute in JUDGE:
                    scores.append(await judge(brain.llm, attribute, text))
                    hits.append(len(WORDS[attribute].findall(text.lower())))
            flagged = offensive(replies) if attribute == "toxicity" else None
            rows.append({
                "steer": steer,
                "words": statistics.mean(len(t.split()) for t in replies),
                "offensive": None if flagged is None else statistics.mean(
                    p > 0.5 for p in flagged),
                "judge_yes": statistics.mean(scores) if scores else None,
                "word_hits": statistics.mean(hits) if hits else None,
                "replies": replies,
            })
        out[attribute] = rows
    out["regard"] = await run_regard(brain.llm)
    return out


async def run_regard(llm: Llm) -> dict[str, Any]:
    """The regard judgement on REGARD_LINES: how many it gets right, and each answer."""
    got = [json.loads(await llm.complete(prompt.regard(line)))["feeling"]
           for line, _ in REGARD_LINES]
    right = sum(g == want for g, (_, want) in zip(got, REGARD_LINES, strict=True))
    return {"right": right, "total": len(REGARD_LINES), "answers": got}


def print_regard(result: dict[str, Any]) -> None:
    print(f"\nRegard judgement: {result['right']}/{result['total']} lines as labelled")
    for (line, want), got in zip(REGARD_LINES, result["answers"], strict=True):
        print(f"  {'ok ' if got == want else 'BAD'} {want:<7} got {got:<7} {line}")


def _cell(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def print_steering(result: dict[str, Any]) -> None:
    print("\nSteering (same lines, one attribute changed; classifier = alt-profanity-check; "
          "judge = the same model, yes/no):")
    print(f"  {'attribute':<10} {'setting':<12} {'words/reply':>11} {'offensive':>9} "
          f"{'judge yes':>9} {'word hits':>9}  example")
    for attribute, rows in result.items():
        if attribute == "regard":
            continue
        for r in rows:
            setting = ",".join(f"{k}={v}" for k, v in r["steer"].items())
            print(f"  {attribute:<10} {setting:<12} {r['words']:>11.1f} "
                  f"{_cell(r['offensive']):>9} {_cell(r['judge_yes']):>9} "
                  f"{_cell(r['word_hits']):>9}  {r['replies'][0][:60]}")
    if "regard" in result:
        print_regard(result["regard"])
