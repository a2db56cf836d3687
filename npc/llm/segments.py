"""Lore segments: the KV cache of known prompt pieces, computed once and spliced into a prompt.

A lore question's prompt carries 50-110 tokens of lore that its line found just before
the pause, and evaluating them was most of the wait for the NPC's first word (about 6 ms
a token on the 2-core CPU, docs/latency.md). But the lore is known at start-up: every
sentence a turn can be told is a sentence of a lore chunk. So each chunk is evaluated
once, in its own order after a short lead (a user message opening "What you know:"), and
the KV cells of each of its pieces (the "- title:" line start, then each sentence) are
kept: once after no head, for any prompt, and for each NPC after the chat messages its
prompts open with (`Run.head`: its system message and examples), for its own prompts;
those read closer to the turn's own evaluation (docs/llm.md). A prompt that holds such a
piece, tokenized on the piece's bounds (`split`), takes its cells instead of evaluating
it (`splice`): they are loaded into a spare sequence, moved to the piece's place
(llama.cpp turns their keys by the position change), and handed to the prompt's
sequence. A spliced piece attended, when it was made, to its head, its lead and its
chunk's earlier sentences rather than to this prompt's history: what the model reads is
the same words, a little less tied to the turn (measured against a full evaluation:
docs/llm.md).

The cells are llama.cpp's own sequence state (`llama_state_seq_get_data`), kept in
memory up to a budget and on disk (`SegmentStore`), keyed by the model file and the
library's version, so the next start loads them in a moment.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import logging
import os
import struct
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger("npc_bridge.llm")

SEQ_SPARE = 1  # the sequence a piece's cells are loaded into before they are handed over
_MAGIC = b"NPCKV1\n"


Head = tuple[tuple[str, str], ...]  # chat messages as (role, content)


def head_id(head: Head) -> str:
    """A short name for a head: "" for none."""
    if not head:
        return ""
    return hashlib.sha256(json.dumps(head, ensure_ascii=False).encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Run:
    """Pieces read in this order after `lead` (a user message's opening words), that
    message following the chat messages `head` (an NPC's system message and examples:
    its pieces serve the prompts that open with them; none: any prompt)."""

    lead: str
    pieces: tuple[str, ...]
    head: Head = ()

    @property
    def key(self) -> str:
        parts = [self.lead, *self.pieces] if not self.head else [self.head, self.lead, *self.pieces]
        text = json.dumps(parts, ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Piece:
    """A piece's KV cells: made at positions [start, start + len(tokens))."""

    tokens: tuple[int, ...]
    start: int
    state: bytes


def split(
    text: str, segments: Sequence[str], tokenize: Callable[[str, bool], list[int]]
) -> tuple[list[int], list[tuple[int, int]]]:
    """`text` tokenized with a cut before and after each of `segments` found in it, in
    order (the first from where the last ended), and the token spans of those found. A
    segment not found ends the search: the rest is tokenized whole. `tokenize(part,
    first)` tokenizes one part; `first` is true for the text's start."""
    parts: list[tuple[str, bool]] = []
    at = 0
    for seg in segments:
        i = text.find(seg, at) if seg else -1
        if i < 0:
            break
        parts += [(text[at:i], False), (seg, True)]
        at = i + len(seg)
    parts.append((text[at:], False))
    tokens: list[int] = []
    spans: list[tuple[int, int]] = []
    for n, (part, is_segment) in enumerate(parts):
        if not part and n > 0:
            continue
        ids = tokenize(part, n == 0)
        if is_segment:
            spans.append((len(tokens), len(tokens) + len(ids)))
        tokens += ids
    return tokens, spans


class SegmentStore:
    """Pieces by their head and tokens, in memory within `limit_bytes`, and their runs on
    disk. Runs after a head (an NPC's, in a session) give way, the least recently used
    head first, to a newer head's: a persona edited while serving leaves no stale runs
    in the way of its new ones."""

    def __init__(self, limit_bytes: int) -> None:
        self.limit_bytes = limit_bytes
        self.pieces: dict[tuple[str, tuple[int, ...]], Piece] = {}
        self.heads: OrderedDict[str, Head] = OrderedDict()  # least recently used first
        self.runs: dict[str, list[Piece]] = {}
        self._of_head: dict[str, list[str]] = {}  # head -> its runs' keys
        self.bytes = 0

    def add(self, run: Run, pieces: list[Piece]) -> bool:
        """Keep a run's pieces, making room from other heads' runs if need be; False
        (nothing kept) when they would pass the budget all the same."""
        if run.key in self.runs:
            return True  # the same run twice (two chunks alike): kept once
        size = sum(len(p.state) for p in pieces)
        head = head_id(run.head)
        others = sum(self._size(h) for h in self.heads if h != head)
        if self.bytes - others + size > self.limit_bytes:
            return False  # not even with every other head's runs given way
        while self.bytes + size > self.limit_bytes:
            self._drop(next(h for h in self.heads if h != head))
        self.runs[run.key] = pieces
        self.bytes += size
        if run.head:
            self.heads[head] = run.head
            self.heads.move_to_end(head)
            self._of_head.setdefault(head, []).append(run.key)
        for p in pieces:
            self.pieces.setdefault((head, p.tokens), p)
        return True

    def _size(self, head: str) -> int:
        return sum(len(p.state) for key in self._of_head.get(head, []) for p in self.runs[key])

    def _drop(self, head: str) -> None:
        del self.heads[head]
        for run in self._of_head.pop(head, []):
            self.bytes -= sum(len(p.state) for p in self.runs.pop(run, []))
        for piece in [k for k in self.pieces if k[0] == head]:
            del self.pieces[piece]

    def head_of(self, messages: Head) -> str:
        """The longest kept head that `messages` open with; "" when none does."""
        best, found = 0, ""
        for name, head in self.heads.items():
            if len(head) > best and tuple(messages[: len(head)]) == head:
                best, found = len(head), name
        if found:
            self.heads.move_to_end(found)
        return found

    def get(self, tokens: Sequence[int], head: str = "") -> Piece | None:
        """The piece made after `head` with these tokens, else one made after no head."""
        key = tuple(tokens)
        return self.pieces.get((head, key)) or self.pieces.get(("", key))

    def save(self, path: Path, model: str, older: dict[str, list[Piece]]) -> None:
        """These runs, then the `older` ones the file had (another game's lore, an earlier
        version of this one) while the file stays within twice the budget, to `path`
        (written aside, then moved in place)."""
        runs = dict(self.runs)
        size = self.bytes
        for key, pieces in older.items():
            more = sum(len(p.state) for p in pieces)
            if key not in runs and size + more <= 2 * self.limit_bytes:
                runs[key] = pieces
                size += more
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
        with tmp.open("wb") as f:
            f.write(_MAGIC)
            header = {"model": model, "runs": {
                key: [[list(p.tokens), p.start, len(p.state)] for p in pieces]
                for key, pieces in runs.items()}}
            raw = json.dumps(header).encode()
            f.write(struct.pack("<Q", len(raw)))
            f.write(raw)
            for pieces in runs.values():
                for p in pieces:
                    f.write(p.state)
        tmp.replace(path)

    @staticmethod
    def load(path: Path, model: str) -> dict[str, list[Piece]]:
        """The runs saved at `path` for `model`; {} if there are none or the file is not
        one of ours (a damaged file is only a miss: the pieces are made again)."""
        try:
            with path.open("rb") as f:
                if f.read(len(_MAGIC)) != _MAGIC:
                    return {}
                (n,) = struct.unpack("<Q", f.read(8))
                header = json.loads(f.read(n))
                if header.get("model") != model:
                    return {}
                out: dict[str, list[Piece]] = {}
                for key, rows in header["runs"].items():
                    pieces = []
                    for tokens, start, size in rows:
                        state = f.read(size)
                        if len(state) != size:
                            return {}
                        pieces.append(Piece(tuple(tokens), int(start), state))
                    out[key] = pieces
                return out
        except (OSError, ValueError, KeyError, TypeError, struct.error):
            return {}


class Splicer:
    """A llama-cpp-python `Llama` whose context holds a spare sequence (SEQ_SPARE): makes
    pieces and splices them into sequence 0, keeping the wrapper's token record true."""

    def __init__(self, llama: Any, cpp: Any) -> None:
        self.llama, self.cpp = llama, cpp

    @property
    def _mem(self) -> Any:
        return self.cpp.llama_get_memory(self.llama.ctx)

    def make(self, lead: list[int], pieces: list[list[int]], keep: int = 0) -> Iterator[Piece]:
        """With the context holding `lead[:keep]` (runs after one head evaluate it once),
        evaluate the rest of `lead`, then each piece in turn, yielding each piece's cells.
        Leaves the context holding `lead`, or empty after an error."""
        llama, cpp, mem = self.llama, self.cpp, self._mem
        cpp.llama_memory_seq_rm(mem, 0, keep, -1)
        llama.n_tokens = keep
        done = False
        try:
            if keep < len(lead):
                llama.eval(lead[keep:])
            for tokens in pieces:
                start = llama.n_tokens
                llama.eval(tokens)
                cpp.llama_memory_seq_cp(mem, 0, SEQ_SPARE, start, -1)
                try:
                    yield Piece(tuple(tokens), start, self._state(SEQ_SPARE))
                finally:
                    cpp.llama_memory_seq_rm(mem, SEQ_SPARE, -1, -1)
            done = True
        finally:
            if done:
                cpp.llama_memory_seq_rm(mem, 0, len(lead), -1)
                llama.n_tokens = len(lead)
            else:
                cpp.llama_memory_clear(mem, True)
                llama.n_tokens = 0

    def _state(self, seq: int) -> bytes:
        ctx = self.llama.ctx
        size = self.cpp.llama_state_seq_get_size(ctx, seq)
        buf = (ctypes.c_uint8 * size)()
        written = self.cpp.llama_state_seq_get_data(ctx, buf, size, seq)
        return ctypes.string_at(buf, written)

    def splice(self, piece: Piece) -> bool:
        """Put `piece`'s cells at the end of sequence 0 (its tokens next); False when
        llama.cpp refuses the state (then nothing changed)."""
        llama, cpp, mem = self.llama, self.cpp, self._mem
        at = llama.n_tokens
        if at + len(piece.tokens) > llama.n_ctx():
            return False
        cpp.llama_memory_seq_rm(mem, 0, at, -1)
        buf = (ctypes.c_uint8 * len(piece.state)).from_buffer_copy(piece.state)
        if cpp.llama_state_seq_set_data(llama.ctx, buf, len(piece.state), SEQ_SPARE) == 0:
            cpp.llama_memory_seq_rm(mem, SEQ_SPARE, -1, -1)
            return False
        if at != piece.start:
            cpp.llama_memory_seq_add(mem, SEQ_SPARE, -1, -1, at - piece.start)
        cpp.llama_memory_seq_cp(mem, SEQ_SPARE, 0, -1, -1)
        cpp.llama_memory_seq_rm(mem, SEQ_SPARE, -1, -1)
        llama.input_ids[at : at + len(piece.tokens)] = piece.tokens
        llama.n_tokens = at + len(piece.tokens)
        return True
