"""The NPC's voice and face for one turn: clauses in, audio, face frames and emotion out.

A Speaker takes the NPC's line as it streams (text deltas), cuts it into clauses, and
synthesises each clause on a worker thread while the model writes the next; each clip
goes out at once as `npc-audio` chunks with its `face-frames`, all on the turn's one
audio timeline. The engine starts playing at the first chunk; barge-in cancels the
Speaker with the turn.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from bridge.errors import BridgeError
from bridge.messages import Emotion, Error, FaceFrames, FaceHeader, NpcAudio
from npc.clauses import ClauseSplitter
from npc.designer.persona import NpcFile, check_voice
from npc.face.animator import FaceAnimator
from npc.tts.base import Clip, Tts, Voice, speak

if TYPE_CHECKING:
    from npc.talking import TalkingConversation

log = logging.getLogger("npc_bridge.speaking")

CHUNK_MS = 40  # NPC audio per `npc-audio` message
FACE_BATCH = 30  # frames per `face-frames` message
EMOTION_INTENSITY = 0.7  # how strongly a line's emotion shows when the model names it


@dataclass(frozen=True, slots=True)
class SpeechOptions:
    """How a brain speaks: frame rate of the face, and whether to animate one at all."""

    fps: int = 60
    face: bool = True
    head: bool = True  # headYaw/Pitch/Roll channels after the 52 ARKit ones
    # A player's turn opens with the NPC's `acknowledge` line ("Hm."), made at session open,
    # while its answer is on its way (docs/latency.md): the studio's choice, off by default.
    acknowledge: bool = False


class Speaker:
    """One turn's speech. `feed` text, `emotion` to change the mood, `finish` to end."""

    def __init__(
        self,
        conv: TalkingConversation,
        tts: Tts,
        voice: Voice,
        options: SpeechOptions,
        early: EarlyClips | None = None,
    ) -> None:
        self.conv, self.tts, self.voice, self.options = conv, tts, voice, options
        self.early = early  # clauses synthesised before the turn (answering ahead)
        self.rate = conv.info.audio_out_rate
        self.turn = conv.turn
        self.splitter = ClauseSplitter()
        self.face = (
            FaceAnimator(self.rate, options.fps, seed=self.turn, head=options.head)
            if options.face
            else None
        )
        self.cursor = 0  # samples of audio sent so far
        self.header_sent = False
        self.failed = False
        self.trace = conv.trace  # this turn's, kept: a later turn's trace is not ours
        # The model may write while this is set; it is held while the first clause is
        # synthesised, so on a small CPU the voice the player waits for comes first.
        self.go = threading.Event()
        self.go.set()
        self.queued = 0  # clauses given to the voice so far
        self._queue: asyncio.Queue[str | None] = asyncio.Queue()
        self._task = asyncio.ensure_future(self._work())

    # -- what the conversation calls ----------------------------------------------------

    def feed(self, delta: str) -> None:
        """More of the NPC's line; complete clauses go to the voice at once."""
        for clause in self.splitter.feed(delta):
            self._put(clause)

    def line_done(self) -> None:
        """The line in progress is complete: speak its last words too."""
        for clause in self.splitter.flush():
            self._put(clause)

    def acknowledge(self, clips: list[Clip]) -> bool:
        """Send `clips` (the NPC's acknowledgement, made ahead) now, before the line: only
        while nothing of the turn has been said. Whether they went out."""
        if self.queued or self.cursor or self.failed or not clips:
            return False
        for clip in clips:
            self._send(clip, line=False)
        self.trace.mark("acknowledged")
        return True

    def _put(self, clause: str) -> None:
        if not self.queued:
            self.go.clear()  # the first clause: the model waits until it is heard
            self.trace.mark("first_clause")
        self.queued += 1
        self._queue.put_nowait(clause)

    def emotion(self, name: str, intensity: float = EMOTION_INTENSITY) -> None:
        """The mood from here on: an `emotion` message, and the face blends into it."""
        if self.face is not None:
            self.face.set_emotion(name, intensity)
        s = self.conv.info.session
        self.conv.out.send(
            Emotion(
                session=s, turn=self.turn, emotion=name, intensity=intensity,
                start_sample=self.cursor,
            )
        )

    async def finish(self) -> None:
        """Speak what is left and wait until every clip and face frame is out."""
        self.line_done()
        self._queue.put_nowait(None)
        await self._task

    def cancel(self) -> None:
        self.go.set()
        self._task.cancel()

    # -- the worker ---------------------------------------------------------------------

    async def _work(self) -> None:
        while (clause := await self._queue.get()) is not None:
            if self.failed:
                self.go.set()
                continue  # the voice failed once this turn: the rest is text only
            made = self.early.take(clause, self.voice, self.rate) if self.early else None
            try:
                if made is not None:
                    clips = await made
                else:
                    clips = await asyncio.to_thread(
                        _synthesise, self.tts, clause, self.voice, self.rate
                    )
            except BridgeError as e:
                self.failed = True
                log.warning("speech failed: %s", e)
                self.conv.out.send(Error.of(e, session=self.conv.info.session, stage="tts"))
                continue
            finally:
                self.go.set()
            for clip in clips:
                self._send(clip)
        if self.face is not None and self.cursor:
            self._frames(*self.face.finish())

    def _send(self, clip: Clip, line: bool = True) -> None:
        """One clip out: its face frames, then its audio in chunks, from the cursor on.
        `line`: the clip is the NPC's line (not an acknowledgement before it)."""
        if self.face is not None:
            self._frames(*self.face.feed(clip.pcm, clip.phones))
        conv, s = self.conv, self.conv.info.session
        step = self.rate * CHUNK_MS // 1000
        if conv.play_start is None:
            conv.play_start = time.monotonic()
        for i in range(0, len(clip.pcm), step):
            chunk = clip.pcm[i : i + step]
            conv.out.send(
                NpcAudio(
                    session=s, turn=self.turn, sample_rate=self.rate,
                    start_sample=self.cursor, pcm=chunk.astype("<i2").tobytes(),
                )
            )
            self.trace.mark("first_audio")
            if line:
                self.trace.mark("line_audio")
            self.cursor += len(chunk)
            conv.sent_samples = self.cursor

    def _frames(self, times: np.ndarray, weights: np.ndarray) -> None:
        assert self.face is not None
        s = self.conv.info.session
        if not self.header_sent:
            self.conv.out.send(
                FaceHeader(
                    session=s, turn=self.turn, channels=list(self.face.channels),
                    fps=float(self.options.fps), sample_rate=self.rate,
                )
            )
            self.header_sent = True
        for i in range(0, len(times), FACE_BATCH):
            tb = np.ascontiguousarray(times[i : i + FACE_BATCH], dtype="<i8")
            wb = np.ascontiguousarray(weights[i : i + FACE_BATCH], dtype="<f4")
            self.conv.out.send(
                FaceFrames(
                    session=s, turn=self.turn, count=len(tb), times=tb.tobytes(),
                    weights=wb.tobytes(),
                )
            )
            self.trace.mark("first_face")


def _synthesise(tts: Tts, text: str, voice: Voice, rate: int) -> list[Clip]:
    return list(speak(tts, text, voice, rate))


class EarlyClips:
    """Clauses synthesised before their turn is confirmed: the first clause of a reply
    begun at the player's pause (npc/mind/ahead.py) is spoken during the hangover, and the
    turn's Speaker takes its clips instead of synthesising it again."""

    KEPT = 4  # the newest; an older one's guess is long gone

    def __init__(self, tts: Callable[[], Tts]) -> None:
        self._tts = tts
        self._made: OrderedDict[tuple[str, Voice, int], asyncio.Future[list[Clip]]] = (
            OrderedDict()
        )

    def prepare(self, text: str, voice: Voice, rate: int) -> asyncio.Future[list[Clip]]:
        """Start synthesising `text` (on a worker thread) unless it is under way."""
        key = (text, voice, rate)
        made = self._made.get(key)
        if made is None:
            made = asyncio.ensure_future(
                asyncio.to_thread(_synthesise, self._tts(), text, voice, rate)
            )
            made.add_done_callback(_quietly)
            self._made[key] = made
            while len(self._made) > self.KEPT:
                self._made.popitem(last=False)
        return made

    def take(self, text: str, voice: Voice, rate: int) -> asyncio.Future[list[Clip]] | None:
        """The clips of `text` if they were prepared (once: they are the taker's now)."""
        return self._made.pop((text, voice, rate), None)


def _quietly(made: asyncio.Future[list[Clip]]) -> None:
    """An early clip nobody takes must not log "exception never retrieved"; a turn that
    takes it gets the exception."""
    if not made.cancelled():
        made.exception()


class Voices:
    """A brain's voice: the TTS backend, loaded and warmed at start, a Speaker per turn."""

    def __init__(self, tts: Tts | Callable[[], Tts], options: SpeechOptions | None = None) -> None:
        self._tts = tts if isinstance(tts, Tts) else None
        self._load = None if isinstance(tts, Tts) else tts
        self.options = options or SpeechOptions()
        self._acks: dict[tuple[str, Voice, int], list[Clip]] = {}  # acknowledgements made
        self.early = EarlyClips(lambda: self.tts)

    @property
    def tts(self) -> Tts:
        if self._tts is None:
            raise RuntimeError("Voices.start() has not loaded the TTS backend")
        return self._tts

    async def start(self, npcs: list[NpcFile], progress: Callable[[str], None]) -> None:
        """Load the backend, then check and warm every NPC's voice: an NPC file naming a
        voice the backend does not have is a DesignerError with its file and line."""
        began = time.perf_counter()
        if self._tts is None and self._load is not None:
            progress("loading the voice...")
            self._tts = await asyncio.to_thread(self._load)
        for npc in npcs:
            check_voice(npc, npc.path.read_text(encoding="utf-8"), self.tts.check)
        voices = list({npc.tts: None for npc in npcs})
        for voice in voices:
            await asyncio.to_thread(self.tts.warm, voice)
        took = time.perf_counter() - began
        progress(f"voice {self.tts.name} ready ({len(voices)} voice settings) in {took:.1f} s")

    def speaker(self, conv: TalkingConversation, voice: Voice) -> Speaker:
        return Speaker(conv, self.tts, voice, self.options, self.early)

    def make_acknowledgements(self, npcs: list[NpcFile], rate: int) -> None:
        """Blocking: synthesise each NPC's `acknowledge` line at `rate` (a session's output
        rate), once; a voice that fails is logged and that NPC goes without."""
        for npc in npcs:
            key = (npc.lines["acknowledge"], npc.tts, rate)
            if key in self._acks or not key[0].strip():
                continue
            try:
                self._acks[key] = _synthesise(self.tts, key[0], npc.tts, rate)
            except BridgeError as e:
                log.warning("%s: the acknowledgement could not be spoken: %s", npc.id, e)
                self._acks[key] = []

    def acknowledgement(self, npc: NpcFile, rate: int) -> list[Clip]:
        """`npc`'s acknowledgement at `rate` if it is made ([] when not, or not yet)."""
        return self._acks.get((npc.lines["acknowledge"], npc.tts, rate), [])

    def close(self) -> None:
        if self._tts is not None:
            self._tts.close()
