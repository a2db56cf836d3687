"""Do the SteerLM knobs move the output? Same lines, different attributes, measured.

Verbosity is measured by length (words per reply). Toxicity and humor each have a
classifier that knows nothing of the steering. Toxicity: alt-profanity-check (a
scikit-learn model shipped inside its PyPI package: the share of replies it finds
offensive, probability > 0.5). Humor: npc/bench/humor.py (TF-IDF and logistic regression
trained at run time on jokes and plain sentences from registry packages, blind to the
words the humor steering biases; the share of replies with p(joke) > 0.5, scored once as
said and once with the steered opener taken off). Both are optional, in the `bench`
extra (`pip install -e '.[bench]'`); a missing one leaves its column empty, and the humor
judge says which package it lacks. Also per reply: a judge (the same model
asked, under a JSON schema, a yes/no question: "is it rude?", "is it joking?", without
being told how the reply was steered; the share of yes; the 0.5B model cannot tell, kept
for comparison), and a word list (insults; joke markers: it overlaps the steering
vocabulary, so it is a secondary figure). The figures are over several lines and the
comparison is between settings in the same run.

`run_regard` scores the judgement that lets the player's words move an NPC's regard
(npc/mind/prompt.py `regard`) on lines labelled by hand, none of them its examples.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import re
import statistics
from collections.abc import Sequence
from typing import Any

from npc.bench import humor
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
# Humor is scored per reply as joke or not, so it gets six more lines (twelve in all).
MORE_LINES = {
    "humor": (
        ("brakka", "How long have you worked here?"),
        ("quartermaster", "What's the food like on this station?"),
        ("guard", "Is the station safe?"),
        ("smuggler", "What do you think of the guards?"),
        ("quartermaster", "Why is the lift always broken?"),
        ("brakka", "Is my mech going to make it?"),
    ),
}
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


def funny(texts: list[str]) -> tuple[list[float], list[float]] | None:
    """The humor judge's p(joke) per text, as said and with the steered opener taken off;
    None (and why, printed once) if a package it needs is not installed."""
    try:
        model = humor.judge()
    except humor.MissingCorpus as e:
        _say_once(str(e))
        return None
    return model.probabilities(texts), model.probabilities([humor.strip_opener(t)
                                                            for t in texts])


_said: set[str] = set()


def _say_once(line: str) -> None:
    if line not in _said:
        _said.add(line)
        print(line)


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


async def run_steering(
    brain: MindBrain, attributes: Sequence[str] = tuple(SETTINGS), regard: bool = True
) -> dict[str, Any]:
    """Per attribute and setting: mean words per reply, the classifiers' offensive and
    funny shares (funny also with the opener taken off), the judge's yes share and the
    word list's hits per reply; then "regard": the regard judgement's score (`run_regard`)
    and "humor_judge": the humor classifier's held-out scores."""
    out: dict[str, Any] = {}
    n = 0
    for attribute in attributes:
        settings = SETTINGS[attribute]
        rows = []
        for steer in settings:
            scores, hits, replies = [], [], []
            for npc, line in (*LINES, *MORE_LINES.get(attribute, ())):
                n += 1
                text = (await say(brain, npc, f"steer-{n}", line, [], steer)).line
                replies.append(text)
                if attribute in JUDGE:
                    scores.append(await judge(brain.llm, attribute, text))
                    hits.append(len(WORDS[attribute].findall(text.lower())))
            flagged = offensive(replies) if attribute == "toxicity" else None
            jokes = funny(replies) if attribute == "humor" else None
            rows.append({
                "steer": steer,
                "words": statistics.mean(len(t.split()) for t in replies),
                "offensive": None if flagged is None else statistics.mean(
                    p > 0.5 for p in flagged),
                "funny": None if jokes is None else statistics.mean(p > 0.5 for p in jokes[0]),
                "funny_bare": None if jokes is None else statistics.mean(
                    p > 0.5 for p in jokes[1]),
                "p_joke": None if jokes is None else [round(p, 3) for p in jokes[0]],
                "judge_yes": statistics.mean(scores) if scores else None,
                "word_hits": statistics.mean(hits) if hits else None,
                "replies": replies,
            })
        out[attribute] = rows
    if "humor" in attributes and funny([]) is not None:
        out["humor_judge"] = dataclasses.asdict(humor.judge().held_out)
    if regard:
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
    print("\nSteering (same lines, one attribute changed; classifiers: offensive = "
          "alt-profanity-check, funny = npc/bench/humor.py, also with the opener taken off; "
          "judge = the same model, yes/no):")
    print(f"  {'attribute':<10} {'setting':<12} {'words/reply':>11} {'offensive':>9} "
          f"{'funny':>6} {'no opener':>9} {'judge yes':>9} {'word hits':>9}  example")
    for attribute, rows in result.items():
        if attribute not in SETTINGS:
            continue
        for r in rows:
            setting = ",".join(f"{k}={v}" for k, v in r["steer"].items())
            print(f"  {attribute:<10} {setting:<12} {r['words']:>11.1f} "
                  f"{_cell(r['offensive']):>9} {_cell(r.get('funny')):>6} "
                  f"{_cell(r.get('funny_bare')):>9} {_cell(r['judge_yes']):>9} "
                  f"{_cell(r['word_hits']):>9}  {r['replies'][0][:60]}")
    if "humor_judge" in result:
        s = result["humor_judge"]
        print(f"\nHumor judge, held-out fifth ({s['jokes']} jokes, {s['plain']} plain): "
              f"accuracy {s['accuracy']:.3f}, balanced {s['balanced_accuracy']:.3f}, "
              f"precision {s['precision']:.3f}, recall {s['recall']:.3f}")
    if "regard" in result:
        print_regard(result["regard"])
