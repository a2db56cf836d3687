"""Guided decoding of a JSON plan (npc/llm/guided.py) on a model that evaluates tokens.

Forced text is never sampled: it waits, as bytes, until the next decision needs logits and
is then evaluated in one batch with whatever else waits (the prompt's new tokens too). A
choice is scored on the tokens that tell its options apart: the waiting text plus each
option's forced head is tokenized, the tokens all options share are evaluated, and one
token is picked among the options' next tokens (deeper only while several options share
it). A free string samples tokens without a grammar: tokens that would break the JSON (a
raw control character, an incomplete escape, bytes that are not whole UTF-8) are masked;
a token holding the closing quote and more is cut after the quote, and what it keeps is
evaluated with the next forced text; the closing quote is masked until `min_chars` and
forced at `max_chars`.

Choices are guessed ahead (`Guided.speculate`): the first option of a choice, and of each
choice after it up to the next free string, is evaluated in one batch with the logits
kept at every choice; where the logits bear a guess out nothing more is evaluated, where
they do not the context goes back to that choice (a few tokens evaluated for nothing).
The reply schema lists "none" and "neutral" first, so a plain line's first token needs one
evaluation instead of three.

Choices are greedy (the most likely option) whatever the temperature: the action is a
decision, not style; on the hangar's action scenarios greedy choices scored 38/42 and
choices sampled at the brain's temperature 36/42 (docs/llm.md). The line itself follows
the request's decoding: temperature, top-k 40, top-p and min-p 0.05 as llama.cpp's
defaults, the repeat penalty over the output's last 64 tokens, the word bias, the seed.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from npc.llm.guided import Choice, Plan, Text, lead
from npc.llm.lookahead import accept, draft

TOP_K = 40
MIN_P = 0.05
PENALTY_LAST_N = 64
_PLAIN = re.compile(r'[^"\\\x00-\x1f]*\Z')
_ESCAPE = re.compile(r'\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4})')
NpArray = Any  # numpy arrays: the stubs' generics add nothing here


class Model(Protocol):
    """What the decoder needs of a model: its context grows by `eval` (or `eval_at`) and
    shrinks only by `rewind`."""

    def tokenize(self, text: bytes) -> list[int]: ...
    def eval(self, tokens: Sequence[int]) -> None: ...
    def logits(self) -> NpArray: ...  # float32 [n_vocab], for the next position
    def recent(self, n: int) -> list[int]: ...  # the output's last `n` evaluated tokens
    def room(self) -> int: ...  # tokens the context can still take
    # One batch, and the logits after `tokens[:k]` for each k in `at` (1 <= k); `logits()`
    # then gives those after all of them.
    def eval_at(self, tokens: Sequence[int], at: Sequence[int]) -> list[NpArray]: ...
    def size(self) -> int: ...  # tokens in the context, those waiting to be evaluated too
    def rewind(self, size: int) -> None: ...  # forget the tokens after the first `size`
    def tokens(self) -> Sequence[int] | NpArray: ...  # the evaluated context (for drafts)


class Cancelled(Exception):
    """The caller's cancel flag was set between two steps."""


@dataclass(frozen=True, slots=True)
class StringTokens:
    """Each token's fitness inside a JSON string, by token id."""

    pieces: list[bytes]  # the token's bytes
    text: list[str]  # the token's text ("" where it is not whole UTF-8 or is special)
    inside: NpArray  # bool: may appear inside a string (valid escapes, no quote)
    closing: NpArray  # bool: holds an unescaped quote after a valid prefix
    cut: NpArray  # int32: for a closing token, where its quote is
    chars: NpArray  # int32: decoded characters it adds (for a closing one, before the quote)

    @classmethod
    def build(cls, pieces: Sequence[bytes]) -> StringTokens:
        n = len(pieces)
        text = [""] * n
        inside, closing = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
        cut, chars = np.zeros(n, dtype=np.int32), np.zeros(n, dtype=np.int32)
        for i, piece in enumerate(pieces):
            try:
                t = piece.decode("utf-8")
            except UnicodeDecodeError:
                continue
            if not t:
                continue
            text[i] = t
            if _PLAIN.match(t):
                inside[i], chars[i] = True, len(t)
                continue
            at, count = 0, 0
            while at < len(t):
                c = t[at]
                if c == '"':
                    closing[i], cut[i], chars[i] = True, at, count
                    break
                if c < " ":
                    break
                if c == "\\":
                    m = _ESCAPE.match(t, at)
                    if m is None:
                        break
                    at = m.end()
                else:
                    at += 1
                count += 1
            else:
                inside[i], chars[i] = True, count
        return cls(list(pieces), text, inside, closing, cut, chars)


@dataclass(slots=True)
class Sampling:
    """The request's decoding, for the free strings."""

    temperature: float
    top_p: float
    repeat_penalty: float
    bias: dict[int, float]
    rng: np.random.Generator
    max_tokens: int  # sampled tokens in all, choices included


def candidates(logits: NpArray, s: Sampling) -> tuple[NpArray, NpArray]:
    """The tokens sampling may give and their probabilities, as llama.cpp samples
    (top-k, top-p and min-p on the plain probabilities, then the temperature); at
    temperature 0, the most likely token alone."""
    if s.temperature <= 0:
        return np.array([int(np.argmax(logits))]), np.ones(1)
    k = min(TOP_K, logits.shape[0])
    top = np.argpartition(-logits, k - 1)[:k]
    top = top[np.argsort(-logits[top])]
    raw = logits[top].astype(np.float64)
    top, raw = top[np.isfinite(raw)], raw[np.isfinite(raw)]
    p = np.exp(raw - raw[0])
    p /= p.sum()
    keep = max(1, int(np.searchsorted(np.cumsum(p), s.top_p) + 1))
    keep = min(keep, int(np.sum(p >= MIN_P * p[0])))
    warm = np.exp((raw[:keep] - raw[0]) / s.temperature)
    return top[:keep], warm / warm.sum()


def pick(logits: NpArray, s: Sampling) -> int:
    """One token: the most likely at temperature 0, else sampled (`candidates`)."""
    if s.temperature <= 0:
        return int(np.argmax(logits))
    ids, probs = candidates(logits, s)
    return int(ids[s.rng.choice(len(ids), p=probs)])


@dataclass
class Guided:
    """One run of a plan; iterate `run()` for the output text piece by piece."""

    model: Model
    vocab: StringTokens
    sampling: Sampling
    cancel: threading.Event
    out: str = ""  # all text decided so far
    sent: int = 0  # of which yielded
    pending: bytes = b""  # decided, not yet evaluated
    sampled: int = 0
    greedy_choices: bool = True  # False: sampled at the temperature (measured worse)
    speculate: bool = True  # guess the choices up to the next string: one batch for all
    hint: str = ""  # lower-case text the string options are looked for in (the last message)
    prefer: tuple[str, ...] = ()  # string options guessed when the hint names none
    guesses: int = 0  # choices guessed (counted whether they held or not)
    missed: int = 0  # guesses the logits did not bear out
    lookahead: int = 0  # tokens drafted from the context after each sampled one (0: none)
    drafted: int = 0  # draft tokens evaluated
    kept: int = 0  # of which taken

    def run(self, steps: Plan) -> Iterator[str]:
        try:
            while True:
                text, steps = lead(steps)
                self._decide(text)
                if not steps:
                    break
                step = steps[0]
                if isinstance(step, Text):
                    self._eval(self.pending)
                    yield from self._flush()
                    yield from self._string(step)
                    steps = steps[1:]
                elif isinstance(step, Choice):
                    guessed = self._speculate(steps) if self.speculate else None
                    if guessed is None:
                        guessed = lead(self._choose(step.options))[1]
                    yield from self._flush()
                    steps = guessed
        except Cancelled:
            return
        yield from self._flush()

    def _decide(self, text: str) -> None:
        self.out += text
        self.pending += text.encode()

    def _flush(self) -> Iterator[str]:
        if self.sent < len(self.out):
            yield self.out[self.sent :]
            self.sent = len(self.out)

    def _eval(self, text_or_tokens: bytes | Sequence[int]) -> None:
        if self.cancel.is_set():
            raise Cancelled
        tokens = (
            self.model.tokenize(text_or_tokens)
            if isinstance(text_or_tokens, bytes)
            else list(text_or_tokens)
        )
        if tokens:  # nothing waits after a speculation that held
            self.model.eval(tokens)
        if isinstance(text_or_tokens, bytes):
            self.pending = b""

    def _choose(self, options: tuple[Plan, ...]) -> Plan:
        heads = [lead(o)[0].encode() for o in options]
        ids = [self.model.tokenize(self.pending + h) for h in heads]
        depth = _shared(ids)
        if depth:
            self._eval(ids[0][:depth])
        return self._resolve(_Fork(options, heads, ids, depth), self.model.logits())

    def _resolve(self, fork: _Fork, logits: NpArray) -> Plan:
        """Pick among `fork`'s options with `logits` (those after its shared tokens),
        evaluating one token more while several options share the one picked."""
        ids, depth = fork.ids, fork.depth
        alive = list(range(len(fork.options)))
        while True:
            firsts = sorted({ids[i][depth] for i in alive})
            best = firsts[self._among(logits[firsts])]
            self.sampled += 1
            alive = [i for i in alive if ids[i][depth] == best]
            if len(alive) == 1:
                break
            self._eval([best])
            depth += 1
            logits = self.model.logits()
        chosen = alive[0]
        done = len(b"".join(self._piece(t) for t in ids[chosen][:depth]))
        whole = self.pending + fork.heads[chosen]
        self.out += fork.heads[chosen].decode()
        self.pending = whole[done:]
        return fork.options[chosen]

    def _speculate(self, steps: Plan) -> Plan | None:
        """`steps` opens with a choice. Guess its first option, and the first option of
        each choice after it, up to the next free string; evaluate all their tokens in one
        batch with the logits at every choice, then check the guesses in order. Where one
        fails, the context goes back to that choice and the logits there decide it as
        `_choose` would. The steps after what is decided, or None to choose plainly.

        The reply's "none" action comes first in its list: for most lines it holds and the
        line's first token needs one evaluation, not two.
        A string option the hint names ("Give me a wrench": "wrench") is guessed instead,
        else one the request prefers (the emotion this NPC showed most lately)."""
        pending, out = self.pending, self.out
        tokens: list[int] = []
        forks: list[tuple[_Fork, int, bytes, str]] = []  # fork, tokens before its logits, state
        rest = steps
        while rest and isinstance(rest[0], Choice):
            options = rest[0].options
            heads = [lead(o)[0].encode() for o in options]
            ids = [self.model.tokenize(pending + h) for h in heads]
            depth = _shared(ids)
            if any(len(x) <= depth for x in ids):
                break
            firsts = [x[depth] for x in ids]
            g = _guess(heads, self.hint, self.prefer)
            if firsts.count(firsts[g]) > 1 or not tokens + ids[g][:depth]:
                break  # the guess needs two tokens to tell, or there is nothing to evaluate
            tokens += ids[g][:depth]
            forks.append((_Fork(options, heads, ids, depth, g), len(tokens), pending, out))
            done = len(b"".join(self._piece(t) for t in ids[g][:depth]))
            out += heads[g].decode()
            pending = (pending + heads[g])[done:]
            rest = lead(options[g])[1]
        if not forks:
            return None
        if rest and isinstance(rest[0], Text):
            tokens += self.model.tokenize(pending)  # what the string's first token follows
            pending = b""
        if self.cancel.is_set():
            raise Cancelled
        start = self.model.size()
        logits = self.model.eval_at(tokens, [at for _, at, _, _ in forks])
        for (fork, at, before, said), seen in zip(forks, logits, strict=True):
            self.guesses += 1
            firsts = sorted({x[fork.depth] for x in fork.ids})
            best = firsts[self._among(seen[firsts])]
            if best == fork.ids[fork.guess][fork.depth]:
                self.sampled += 1
                continue
            self.missed += 1
            self.model.rewind(start + at)
            self.out, self.pending = said, before
            return lead(self._resolve(fork, seen))[1]
        self.out, self.pending = out, pending
        return rest

    def _among(self, scores: NpArray) -> int:
        t = self.sampling.temperature
        if self.greedy_choices or t <= 0 or len(scores) == 1:
            return int(np.argmax(scores))
        w = np.exp((scores.astype(np.float64) - scores.max()) / t)
        return int(self.sampling.rng.choice(len(scores), p=w / w.sum()))

    def _piece(self, token: int) -> bytes:
        return self.vocab.pieces[token]

    def _string(self, step: Text) -> Iterator[str]:
        """Sample the string token by token; with `lookahead`, each token is evaluated
        with a draft of the tokens that may follow it (npc/llm/lookahead.py), and the
        draft is taken as far as sampling bears it out."""
        v, s = self.vocab, self.sampling
        high = step.max_chars if step.max_chars is not None else 1 << 30
        chars = 0
        logits: NpArray | None = None  # the next position's, when a batch gave them
        chosen: int | None = None  # the next token, when a draft's check chose it
        while True:
            if self.cancel.is_set():
                raise Cancelled
            left = high - chars
            if left <= 0 or self.sampled >= s.max_tokens or self.model.room() < 32:
                self._decide('"')
                return
            if chosen is not None:
                token = chosen
            else:
                if logits is None:
                    logits = self.model.logits()
                recent = self.model.recent(PENALTY_LAST_N)
                token = pick(self._masked(logits, recent, step, chars, left), s)
            logits = chosen = None
            self.sampled += 1
            if v.closing[token]:
                self._decide(v.text[token][: v.cut[token]] + '"')
                return
            self.out += v.text[token]
            chars += int(v.chars[token])
            yield from self._flush()
            proposal = self._draft(token, high - chars)
            if not proposal:
                self._eval([token])
                continue
            if self.cancel.is_set():
                raise Cancelled
            m = len(proposal)
            rows = self.model.eval_at([token, *proposal], range(1, m + 2))
            self.drafted += m
            at = self.model.size() - m  # where the proposal begins
            recent = self.model.recent(PENALTY_LAST_N + m)
            for i, token in enumerate(proposal):
                left = high - chars
                if self.sampled >= s.max_tokens:
                    self.model.rewind(at + i)
                    break
                seen = recent[: len(recent) - (m - i)][-PENALTY_LAST_N:]
                ids, probs = candidates(self._masked(rows[i], seen, step, chars, left), s)
                chosen = accept(ids, probs, token, s.rng, greedy=s.temperature <= 0)
                if chosen is not None:
                    self.model.rewind(at + i)
                    break
                self.kept += 1
                self.sampled += 1
                self.out += v.text[token]
                chars += int(v.chars[token])
                yield from self._flush()
            else:
                logits = rows[-1]

    def _draft(self, token: int, left: int) -> list[int]:
        """Up to `lookahead` tokens that followed `token` in the context before, cut at
        the first that could not stand inside the string or would pass `left` chars."""
        room = min(self.lookahead, self.sampling.max_tokens - self.sampled, self.model.room() - 33)
        if room <= 0:
            return []
        out: list[int] = []
        for t in draft(self.model.tokens(), token, room):
            left -= int(self.vocab.chars[t])
            if not self.vocab.inside[t] or left < 0:
                break
            out.append(t)
        return out

    def _masked(
        self, logits: NpArray, recent: Sequence[int], step: Text, chars: int, left: int
    ) -> NpArray:
        """The logits a string's next token is sampled from: biased, penalised for the
        `recent` output, and only tokens that keep the JSON whole and the string's length
        within `step`'s bounds (`chars` written, `left` to go)."""
        v = self.vocab
        logits = self._penalised(logits, recent)
        fits = v.chars <= left
        ok = (v.inside & fits) | (v.closing & fits & (v.chars + chars >= step.min_chars))
        logits[~ok] = -np.inf
        return logits

    def _penalised(self, logits: NpArray, recent: Sequence[int]) -> NpArray:
        s = self.sampling
        for token, value in s.bias.items():
            logits[token] += value
        if s.repeat_penalty != 1.0:
            seen = np.unique(np.asarray(recent, dtype=np.int64))
            seen = seen[seen < logits.shape[0]]
            vals = logits[seen]
            logits[seen] = np.where(vals > 0, vals / s.repeat_penalty, vals * s.repeat_penalty)
        return logits


@dataclass(frozen=True, slots=True)
class _Fork:
    """A choice at the point of deciding: its options, their forced heads, the pending
    text plus each head as tokens, and how many of those tokens they all share."""

    options: tuple[Plan, ...]
    heads: list[bytes]
    ids: list[list[int]]
    depth: int
    guess: int = 0  # the option guessed ahead of its logits


_STRING = re.compile(rb'"((?:[^"\\]|\\.)+)"')
_ACTION = re.compile(rb'\{"name": "([a-z]{3,})_?[^"]*"')  # an action's name, its verb first
# Where a verb asks for its action: a line's or clause's start ("Paint my mech red."),
# after "you", "please" or "to" ("Can you open the door?"); not "Is the window open?".
_ASKS = r"(?:^|[.!?,;:]\s*|\b(?:you|please|to)\s+){verb}\w*\b"


def _guess(heads: list[bytes], hint: str, prefer: tuple[str, ...] = ()) -> int:
    """Which option to guess: the string value (an enum's "wrench") that `hint` names
    last, as whole words, or the action whose verb it asks for ("Paint my mech red":
    paint_mech); else the first of `prefer` among the options; else the first option
    ("none", "neutral": the likeliest)."""
    best, at = 0, -1
    values: dict[str, int] = {}
    for i, head in enumerate(heads):
        m = _STRING.match(head)
        if m is not None:
            value = m.group(1).decode("utf-8", "replace")
            values.setdefault(value, i)
            pattern = rf"\b{re.escape(value.lower())}\b"
        elif (m := _ACTION.match(head)) is not None and m.group(1) != b"none":
            pattern = _ASKS.format(verb=re.escape(m.group(1).decode()))
        else:
            continue
        found = [w.end() for w in re.finditer(pattern, hint)]
        if found and found[-1] > at:
            best, at = i, found[-1]
    if at < 0:
        return next((values[p] for p in prefer if p in values), 0)
    return best


def _shared(ids: list[list[int]]) -> int:
    n = 0
    while all(len(x) > n for x in ids) and len({x[n] for x in ids}) == 1:
        n += 1
    return n

