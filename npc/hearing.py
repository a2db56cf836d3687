"""The hearing stage: player audio -> VAD -> turn-taking -> streaming ASR, per session.

Audio arrives in engine chunks; it is resampled to 16 kHz, cut into VAD frames and fed
to the recogniser while the player speaks. Partials are decoded every `partial_ms` of
speech; when speech pauses the final decode starts at once (speculatively), so that when
the hangover confirms the end of the turn the transcript is nearly or already there.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from bridge import errors
from bridge.errors import BackendError, BridgeError, ProtocolError
from npc.asr.base import Asr, AsrStream, Hints
from npc.audio import TARGET_RATE, StreamResampler, pcm16_to_float
from npc.trace import Trace
from npc.turns import Event, TurnConfig, TurnDetector, TurnEvent
from npc.vad.base import Vad

log = logging.getLogger("npc_bridge.hearing")

BACKCHANNELS = frozenset(
    {
        *("mhm", "mm", "hmm", "hm", "uh", "huh", "um", "ah", "oh"),
        *("okay", "ok", "yeah", "yes", "yep", "right", "sure"),
    }
)
BATCH_S = 1.0  # player audio per VAD call at most: sessions share one VAD thread
BACKLOG_S = 30.0  # player audio waiting to be heard past this is dropped (a flooding engine)
PREROLL_MS = 320  # audio before the VAD's speech start that still goes to the recogniser
_WORD = re.compile(r"[a-z']+")  # "uh-huh" and "mm-hmm" count as their parts


@dataclass(frozen=True, slots=True)
class HearingConfig:
    turn: TurnConfig = field(default_factory=TurnConfig)
    partial_ms: int = 600  # decode a partial every this much new speech
    # The player must speak this long to interrupt the NPC, and shorter utterances while
    # it speaks are backchannels whatever the recogniser made of them. Measured: "mhm",
    # "okay", "uh-huh" from the test voice are 576, 416 and 256 ms of VAD speech, and
    # tiny.en hears "mhm" as "And make them." (docs/hearing.md).
    barge_in_ms: int = 700
    vocabulary: tuple[str, ...] = ()


def reads_finished(text: str) -> bool:
    """Whether a transcript reads as a finished turn: a question, here. A statement may
    be the first of several ("Wait, stop. I changed my mind."), so it waits the full
    hangover (docs/hearing.md)."""
    return text.rstrip().rstrip("\"')").endswith("?")


def is_backchannel(text: str) -> bool:
    """True when every word is a backchannel ("mhm", "okay", "uh-huh") or there are none."""
    return all(w in BACKCHANNELS for w in _WORD.findall(text.lower()))


class Listener(Protocol):
    """What hearing tells its conversation (called on the event loop)."""

    def speech_started(self) -> None: ...
    def npc_speaking(self) -> bool: ...
    def partial(self, text: str, speech_ms: float) -> None: ...
    def final(self, text: str, trace: Trace) -> None: ...
    def failed(self, error: BridgeError) -> None: ...
    # The transcript decoded at a pause, before the hangover confirms the turn ("": the
    # player went on, forget it): work on the answer may start on it.
    def tentative(self, text: str) -> None: ...


@dataclass(frozen=True, slots=True)
class _Chunk:
    """Player audio as the engine sent it, and when it arrived (perf_counter s)."""

    pcm: bytes
    rate: int
    channels: int
    arrived: float

    @property
    def seconds(self) -> float:
        return len(self.pcm) / (2 * self.channels * self.rate)


@dataclass
class _Utterance:
    stream: AsrStream
    speculative: asyncio.Future[str] | None = None
    partial_due: int = 0  # speech samples at which the next partial is due
    partial: asyncio.Future[str] | None = None  # the partial in flight, if any
    partial_fed: int = 0  # samples fed when it was asked for
    fed: int = 0  # samples fed to the stream
    speech_fed: int = 0  # samples fed up to the last speaking frame
    # The partial in flight at the pause that serves as the pause's transcript (it heard
    # all the speech), or that the pause stopped (its result is stale): neither is a partial.
    not_partial: asyncio.Future[str] | None = None
    finished: bool = False  # the final went out: late partials are stale
    told: bool = False  # the listener has a tentative transcript of this pause
    last_speech_at: float = 0.0  # perf_counter when the last speech sample arrived
    trace: dict[str, float] = field(default_factory=dict)


class Hearing:
    """One session's ears. `feed` and `end_audio` never block; work runs in a task."""

    def __init__(
        self,
        vad: Vad,
        asr: Asr,
        config: HearingConfig,
        listener: Listener,
        vad_pool: Executor,
        asr_pool: Executor,
    ) -> None:
        self.vad, self.asr, self.config, self.listener = vad, asr, config, listener
        self.vad_pool, self.asr_pool = vad_pool, asr_pool
        self.turns = TurnDetector(config.turn, vad.capabilities.frame_samples)
        self.queue: asyncio.Queue[_Chunk | None] = asyncio.Queue()
        self.resampler: StreamResampler | None = None
        self.rate = 0
        self.pending = np.zeros(0, np.float32)
        self.utterance: _Utterance | None = None
        self.backlog_s = 0.0  # player audio queued and not yet heard, seconds
        self.dropped_s = 0.0  # audio dropped since the backlog went over BACKLOG_S
        frames = PREROLL_MS * TARGET_RATE // 1000 // vad.capabilities.frame_samples
        self.preroll: deque[np.ndarray] = deque(maxlen=frames)
        self.task = asyncio.ensure_future(self._run())

    def feed(self, pcm: bytes, sample_rate: int, channels: int) -> None:
        """A chunk of player audio, stamped now: its arrival is the trace's clock."""
        chunk = _Chunk(pcm, sample_rate, channels, time.perf_counter())
        if self.backlog_s >= BACKLOG_S:  # faster than real time for long: it cannot be heard
            self._overflow(chunk.seconds)
            return
        self.backlog_s += chunk.seconds
        self.queue.put_nowait(chunk)

    def end_audio(self) -> None:
        """Push-to-talk released: the turn ends now, whatever the VAD says."""
        self.queue.put_nowait(None)

    def _overflow(self, seconds: float) -> None:
        if not self.dropped_s:
            log.warning("player audio arrives faster than real time: over %g s waiting, "
                        "dropping what comes until it is heard", BACKLOG_S)
            self.listener.failed(ProtocolError(
                f"player audio arrives faster than real time: {BACKLOG_S:g} s of it wait to "
                "be heard; audio is dropped until they are", code=errors.RATE_LIMITED,
            ))
        self.dropped_s += seconds

    async def close(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        if self.utterance is not None:
            self.utterance.stream.close()

    async def _run(self) -> None:
        while True:
            # Everything waiting goes to the VAD in one call (up to BATCH_S of audio): one
            # thread hop per batch, not per chunk, so a session that fell behind catches up.
            batch: list[_Chunk] = []
            seconds = 0.0  # of audio in the batch
            item = await self.queue.get()
            while item is not None:
                batch.append(item)
                seconds += item.seconds
                if self.queue.empty() or seconds >= BATCH_S:
                    break
                item = self.queue.get_nowait()
            try:
                if batch:
                    await self._take(batch)
                if item is None:
                    await self._end_turn(push_to_talk=True, speech=self.turns.speech)
            except Exception as e:  # a failing backend must not leave the session deaf
                if not isinstance(e, BridgeError):
                    log.exception("hearing failed")
                    e = BackendError(f"{type(e).__name__}: {e}", stage="asr")
                self._drop_utterance()
                self.listener.failed(e)
            finally:
                self.backlog_s = max(0.0, self.backlog_s - seconds)
                if self.dropped_s and self.backlog_s < BACKLOG_S / 2:
                    log.warning("hearing caught up; %.1f s of player audio dropped", self.dropped_s)
                    self.dropped_s = 0.0

    async def _take(self, batch: list[_Chunk]) -> None:
        parts = [self._to_16k(pcm16_to_float(c.pcm, c.channels), c.rate) for c in batch]
        ends = np.cumsum([len(x) for x in parts])  # where each chunk ends in `x`
        x = np.concatenate(parts)
        carried = len(self.pending)  # samples of the last call that begin the first frame
        loop = asyncio.get_running_loop()
        events, frames, speaking = await loop.run_in_executor(self.vad_pool, self._vad, x)
        n = self.vad.capabilities.frame_samples
        for i, (ev, frame, voiced) in enumerate(zip(events, frames, speaking, strict=True)):
            # A frame arrived with the chunk that holds its last sample.
            last = (i + 1) * n - carried - 1
            chunk = min(int(np.searchsorted(ends, last, side="right")), len(batch) - 1)
            await self._on_frame(ev, frame, batch[chunk].arrived, voiced)

    def _drop_utterance(self) -> None:
        u, self.utterance = self.utterance, None
        if u is not None:
            u.finished = True
            u.stream.close()
        self.turns.reset_keep_position()

    def _to_16k(self, x: np.ndarray, rate: int) -> np.ndarray:
        if rate != self.rate:
            self.rate, self.resampler = rate, StreamResampler(rate, TARGET_RATE)
        assert self.resampler is not None
        return self.resampler.push(x)

    def _vad(
        self, x: np.ndarray
    ) -> tuple[list[TurnEvent | None], list[np.ndarray], list[bool]]:
        """Worker thread: cut into frames, run the VAD and the turn detector on each; each
        frame's event and whether the player was speaking at it (a batch of many frames,
        audio sent faster than real time, ends with the detector in its last state)."""
        n = self.vad.capabilities.frame_samples
        buf = np.concatenate([self.pending, x])
        count = len(buf) // n
        frames = [buf[i * n : (i + 1) * n] for i in range(count)]
        self.pending = buf[count * n :]
        events, speaking = [], []
        for f in frames:
            events.append(self.turns.push(self.vad.probability(f)))
            speaking.append(self.turns.speaking)
        return events, frames, speaking

    async def _on_frame(
        self, ev: TurnEvent | None, frame: np.ndarray, arrived: float, speaking: bool
    ) -> None:
        u = self.utterance
        if ev is not None and ev.event is Event.SPEECH_START:
            hints = Hints(list(self.config.vocabulary))
            u = self.utterance = _Utterance(self.asr.open_stream(hints))
            u.partial_due = self._ms(self.config.barge_in_ms)
            for before in self.preroll:  # the VAD needs a moment to be sure; Whisper doesn't
                u.stream.feed(before)
            self.preroll.clear()
            self.listener.speech_started()
        if u is None:
            self.preroll.append(frame)
            return
        u.stream.feed(frame)
        u.fed += len(frame)
        if speaking:
            u.last_speech_at, u.speech_fed = arrived, u.fed
        if ev is None:
            self._maybe_partial(u)
        elif ev.event is Event.PAUSE:
            # Guess the turn is over and decode now, unless the NPC is talking and this
            # is still too short to interrupt it: then the recogniser stays free for the
            # partial that decides the barge-in.
            short = self.turns.speech < self._ms(self.config.barge_in_ms)
            if not (short and self.listener.npc_speaking()):
                u.speculative = self._pause_decode(u)
                u.speculative.add_done_callback(functools.partial(self._tentative, u))
        elif ev.event is Event.RESUME:
            if u.speculative is not None:
                u.speculative.cancel()  # the player went on: that guess is stale
            u.speculative, u.not_partial = None, None  # a partial in flight is one again
            if u.told:
                u.told = False
                self.listener.tentative("")
        elif ev.event is Event.END_OF_TURN:
            await self._end_turn(push_to_talk=False, speech=ev.speech_samples)

    def _pause_decode(self, u: _Utterance) -> asyncio.Future[str]:
        """The transcript at a pause. A partial still decoding would hold the pause's
        decode back (up to 230 ms in bench e2e): when it was asked for after the last
        speech, its transcript is the pause's; else it is stopped where it is. Not while
        the NPC speaks: then the partial decides the barge-in, and goes on."""
        p = u.partial
        if p is None or self.listener.npc_speaking():
            return self._submit(u.stream.final)
        u.not_partial = p
        if u.partial_fed >= u.speech_fed:
            return asyncio.shield(p)  # cancelling the pause's guess leaves the partial be
        u.stream.stop_partial()
        return self._submit(u.stream.final)

    def _tentative(self, u: _Utterance, f: asyncio.Future[str]) -> None:
        """The pause's decode is done: tell the listener, if the player is still silent."""
        if u.finished or f is not u.speculative or f.cancelled() or f.exception() is not None:
            return
        text = f.result().strip()
        if not self.turns.in_utterance or self.turns.speaking or not text:
            return  # the turn is over (the final follows at once) or the player went on
        if reads_finished(text):
            self.turns.early = True  # the quick hangover ends this turn
        u.told = True
        self.listener.tentative(text)

    def _maybe_partial(self, u: _Utterance) -> None:
        if u.partial is not None or u.speculative is not None or self.turns.speech < u.partial_due:
            return
        u.partial_due = self.turns.speech + self._ms(self.config.partial_ms)
        speech_ms = self.turns.speech * 1000 / TARGET_RATE
        u.partial_fed = u.fed
        fut = u.partial = self._submit(u.stream.partial)

        def done(f: asyncio.Future[str]) -> None:
            u.partial = None
            if f is u.not_partial:
                return
            if not f.cancelled() and f.exception() is None and not u.finished:
                self.listener.partial(f.result(), speech_ms)

        fut.add_done_callback(done)

    async def _end_turn(self, push_to_talk: bool, speech: int) -> None:
        u = self.utterance  # kept until the final is out: the player is still mid-turn
        if u is None:
            if push_to_talk:
                self.listener.final("", Trace(kind="spoken"))
            return
        eot = time.perf_counter()
        if push_to_talk or u.speculative is None:
            u.speculative = self._submit(u.stream.final)
        text = await u.speculative
        done = time.perf_counter()
        u.finished = True
        self.utterance = None
        u.stream.close()
        self.turns.reset_keep_position()
        trace = Trace(u.last_speech_at, kind="spoken")
        trace["speech_ms"] = round(speech * 1000 / TARGET_RATE, 3)
        trace.mark("end_of_turn", eot)
        trace.mark("transcript", done)
        self.listener.final(text.strip(), trace)

    def _submit(self, fn: Callable[[], str]) -> asyncio.Future[str]:
        return asyncio.get_running_loop().run_in_executor(self.asr_pool, fn)

    @staticmethod
    def _ms(ms: int) -> int:
        return ms * TARGET_RATE // 1000

