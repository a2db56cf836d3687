"""EchoBrain: the wire-test brain. It says back what it hears, so every output kind flows.

Typed text comes back as dialogue deltas and a final line; "call NAME {json}" calls an
engine-declared action and reports its result; player audio comes back, at the session's
output rate, as NPC audio with loudness-driven jaw frames. With ears (VAD + ASR) it hears:
transcripts while the player speaks, a turn at the end of each utterance ("You said: ..."
with the utterance's audio echoed as the NPC's voice), and barge-in. It stands behind the
seam until the thinking and speaking stages replace it; the bridge tests run against it.
"""

from __future__ import annotations

import asyncio
import functools
import json
import time
from collections import deque

import numpy as np
from scipy.signal import resample_poly

from bridge import errors
from bridge.errors import BridgeError, ProtocolError
from bridge.messages import (
    AudioChunk,
    DialogueDelta,
    DialogueFinal,
    FaceFrames,
    FaceHeader,
    GameEvent,
    NpcAudio,
    SessionMessage,
    Steer,
)
from bridge.seam import Brain, Opened, Outbox, SessionInfo
from npc.ears import Ears
from npc.face.arkit import ARKIT_BLENDSHAPES
from npc.face.loudness import jaw_frames
from npc.roster import NpcEntry, session_npcs
from npc.talking import Reply, TalkingConversation

ACTION_TIMEOUT_S = 10.0
MAX_ECHO_S = 30  # player audio kept for the echo reply, seconds
CHUNK_MS = 20
FACE_FPS = 60
FACE_BATCH = 30


class EchoBrain(Brain):
    """Opens an EchoConversation for any NPC on its roster."""

    name = "echo"

    def __init__(
        self, roster: list[NpcEntry], ears: Ears | None = None, own_ears: bool = True
    ) -> None:
        self.roster = {e.id: e for e in roster}
        self.ears = ears
        self.own_ears = own_ears  # False: the ears outlive this brain (tests share them)
        self._order = [e.id for e in roster]

    def npcs(self) -> list[str]:
        return list(self._order)

    def capabilities(self) -> list[str]:
        return ["text", "audio", "actions", "face", *(["asr", "vad"] if self.ears else [])]

    def open(self, info: SessionInfo, out: Outbox) -> Opened:
        npc_id = info.npc or self._order[0]
        entry = self.roster.get(npc_id)
        if entry is None:
            raise ProtocolError(
                f"no NPC '{npc_id[:64]}'; this server has {', '.join(self._order)}",
                code=errors.UNKNOWN_NPC,
            )
        group = session_npcs(entry.id, info.npcs, self._order, " on this server")
        names = [a["function"]["name"] for a in info.actions]
        conv = EchoConversation(info, out, names, interruptible=entry.interruptible)
        conv.npc_id = entry.id
        if self.ears is not None:
            # Every NPC's name: players talk about the others too. Lore terms join with
            # the NPC files' knowledge (issue 4).
            vocabulary = [entry.name, *(e.name for e in self.roster.values() if e is not entry)]
            conv.hearing = self.ears.listen(conv, vocabulary=vocabulary)
            conv.listen = functools.partial(self.ears.listen, vocabulary=vocabulary)
        return Opened(conv, entry.id, entry.name, names, group)

    async def stop(self) -> None:
        if self.ears is not None and self.own_ears:
            self.ears.shutdown()


class EchoConversation(TalkingConversation):
    """One session of the echo brain; one turn runs at a time, a new one cancels the old."""

    stage = "echo"

    def __init__(
        self, info: SessionInfo, out: Outbox, actions: list[str], interruptible: bool = True
    ) -> None:
        super().__init__(info, out, interruptible)
        self.actions = set(actions)
        self.steer = dict(info.steer)
        self.audio: deque[np.ndarray] = deque()  # player audio since the last turn
        self.audio_samples = 0
        self.audio_rate = 16000
        self.heard_audio: list[np.ndarray] = []  # the utterance a heard turn echoes

    def on_audio(self, msg: AudioChunk) -> None:
        pcm = np.frombuffer(msg.pcm, dtype="<i2")
        if msg.channels == 2:
            pcm = pcm.reshape(-1, 2).mean(axis=1).astype(np.int16)
        self.audio.append(pcm)
        self.audio_samples += len(pcm)
        self.audio_rate = msg.sample_rate
        # With ears, silence between turns arrives too: keep only the recent past.
        while self.audio_samples > MAX_ECHO_S * msg.sample_rate:
            self.audio_samples -= len(self.audio.popleft())

    def on_other(self, msg: SessionMessage | GameEvent) -> None:
        if isinstance(msg, Steer):
            self.steer.update(msg.attributes)

    def on_audio_end(self) -> None:
        audio = self._take_audio()
        rate = self.audio_rate
        self.start(lambda: self._echo_audio(audio, rate))

    def on_text(self, text: str, player: str, npc: str) -> Reply:
        return lambda: self._echo_text(text)

    def on_heard(self, text: str, player: str, npc: str) -> Reply:
        audio, rate = self.heard_audio, self.audio_rate
        return lambda: self._echo_heard(text, audio, rate)

    def failed(self, error: BridgeError) -> None:
        self._take_audio()
        super().failed(error)

    def final(self, text: str, trace: dict[str, float]) -> None:
        self.heard_audio = self._take_audio()
        super().final(text, trace)

    def _take_audio(self) -> list[np.ndarray]:
        audio, self.audio, self.audio_samples = list(self.audio), deque(), 0
        return audio

    async def _echo_heard(self, text: str, audio: list[np.ndarray], rate: int) -> None:
        await self._echo_text(f"You said: {text}")
        await self._echo_audio(audio, rate, caption=False)

    async def _echo_text(self, text: str) -> None:
        s, t = self.info.session, self.turn
        if text.startswith("call "):
            text = await self._call(text[5:])
        for word in text.split(" "):
            self.out.send(DialogueDelta(session=s, turn=t, text=word + " "))
            await asyncio.sleep(0)
        self.out.send(DialogueFinal(session=s, turn=t, text=text))

    async def _call(self, spec: str) -> str:
        name, _, raw = spec.partition(" ")
        if name not in self.actions:
            raise ProtocolError(
                f"action '{name}' was not declared at session-open", code=errors.BAD_ACTION
            )
        try:
            args = json.loads(raw or "{}")
        except json.JSONDecodeError as e:
            raise ProtocolError(f"arguments are not JSON: {e}", code=errors.BAD_ACTION) from e
        result = await self.call_engine(name, args, ACTION_TIMEOUT_S)
        if result is None:
            return f"{name} got no answer in {ACTION_TIMEOUT_S:.0f} seconds"
        if result.ok:
            return f"{name} done: {json.dumps(result.result)}"
        return f"{name} failed: {result.error}"

    async def _echo_audio(self, parts: list[np.ndarray], rate: int, caption: bool = True) -> None:
        s, t, out_rate = self.info.session, self.turn, self.info.audio_out_rate
        pcm = np.concatenate(parts) if parts else np.zeros(0, np.int16)
        if rate != out_rate:
            g = np.gcd(rate, out_rate)
            y = resample_poly(pcm.astype(np.float32), out_rate // g, rate // g)
            pcm = np.clip(np.round(y), -32768, 32767).astype(np.int16)
        self.out.send(
            FaceHeader(
                session=s,
                turn=t,
                channels=list(ARKIT_BLENDSHAPES),
                fps=FACE_FPS,
                sample_rate=out_rate,
            )
        )
        times, weights = jaw_frames(pcm, out_rate, FACE_FPS)
        for i in range(0, len(times), FACE_BATCH):
            tb, wb = times[i : i + FACE_BATCH], weights[i : i + FACE_BATCH]
            self.out.send(
                FaceFrames(
                    session=s, turn=t, count=len(tb), times=tb.tobytes(), weights=wb.tobytes()
                )
            )
        step = out_rate * CHUNK_MS // 1000
        self.play_start = time.monotonic()
        for start in range(0, len(pcm), step):
            chunk = pcm[start : start + step]
            self.out.send(
                NpcAudio(
                    session=s, turn=t, sample_rate=out_rate, start_sample=start, pcm=chunk.tobytes()
                )
            )
            self.sent_samples = start + len(chunk)
            await asyncio.sleep(0)
        secs = len(pcm) / out_rate
        if caption:
            self.out.send(
                DialogueFinal(session=s, turn=t, text=f"(echo of {secs:.2f} s of your audio)")
            )
