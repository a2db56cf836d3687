"""Ears: the loaded VAD and recogniser a brain shares between its sessions' hearing stages."""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from bridge.errors import ConfigError
from npc.asr.base import Asr
from npc.hearing import Hearing, HearingConfig, Listener
from npc.registry import ASR, VAD
from npc.turns import TurnConfig

log = logging.getLogger("npc_bridge.hearing")


@dataclass
class Ears:
    """One recogniser (thread-safe by its own lock) and a VAD factory, with their threads.

    VAD and ASR get a thread each, so the VAD (and so end-of-turn detection) never
    waits behind a Whisper decode.
    """

    asr: Asr
    vad_name: str = "silero"
    vad_options: dict[str, Any] = field(default_factory=dict)
    config: HearingConfig = field(default_factory=HearingConfig)

    def __post_init__(self) -> None:
        self.vad_pool = ThreadPoolExecutor(1, thread_name_prefix="vad")
        self.asr_pool = ThreadPoolExecutor(1, thread_name_prefix="asr")
        VAD.create(self.vad_name, **self.vad_options)  # load the model now, not mid-turn

    def listen(self, listener: Listener, vocabulary: list[str]) -> Hearing:
        config = HearingConfig(
            turn=self.config.turn,
            partial_ms=self.config.partial_ms,
            barge_in_ms=self.config.barge_in_ms,
            vocabulary=tuple(dict.fromkeys([*vocabulary, *self.config.vocabulary])),
        )
        vad = VAD.create(self.vad_name, **self.vad_options)
        return Hearing(vad, self.asr, config, listener, self.vad_pool, self.asr_pool)

    def shutdown(self) -> None:
        self.vad_pool.shutdown(wait=False, cancel_futures=True)
        self.asr_pool.shutdown(wait=False, cancel_futures=True)


def build_ears(table: dict[str, Any]) -> Ears:
    """From the config's [hearing] table: vad, asr and their options, timings, vocabulary."""
    started = time.perf_counter()
    asr_name = table.get("asr", "whisper")
    log.info("loading speech recognition (%s) ...", asr_name)
    asr = ASR.create(asr_name, **table.get("asr_options", {}))
    try:
        turn = TurnConfig(**table.get("turn", {}))
    except TypeError as e:
        raise ConfigError(f"[hearing.turn]: {e}") from e
    defaults = HearingConfig()
    config = HearingConfig(
        turn=turn,
        partial_ms=int(table.get("partial_ms", defaults.partial_ms)),
        barge_in_ms=int(table.get("barge_in_ms", defaults.barge_in_ms)),
        vocabulary=tuple(table.get("vocabulary", ())),
    )
    ears = Ears(asr, table.get("vad", "silero"), table.get("vad_options", {}), config)
    log.info("hearing ready in %.1f s", time.perf_counter() - started)
    return ears
