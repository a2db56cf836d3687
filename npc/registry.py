"""Backends by name: config names a backend, the registry imports it only when chosen."""

from __future__ import annotations

import importlib
from typing import Any

from bridge.errors import ConfigError


class Registry:
    """Names mapped to "module:Class" paths, so heavy SDKs load only when picked."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._paths: dict[str, str] = {}

    def register(self, name: str, path: str) -> None:
        self._paths[name] = path

    def names(self) -> list[str]:
        return sorted(self._paths)

    def create(self, name: str, **options: Any) -> Any:
        """Import and build the backend `name` with its config options."""
        path = self._paths.get(name)
        if path is None:
            raise ConfigError(f"no {self.kind} backend '{name}'; known: {', '.join(self.names())}")
        module, _, attr = path.partition(":")
        cls = getattr(importlib.import_module(module), attr)
        try:
            return cls(**options)
        except TypeError as e:
            raise ConfigError(f"{self.kind} backend '{name}': {e}") from e


def require(module: str, extra: str, package: str) -> Any:
    """Import an optional SDK, or fail with the pip command that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise ConfigError(
            f"{package} is not installed: pip install 'npc-bridge[{extra}]' "
            f"(or pip install {package})"
        ) from e


VAD = Registry("vad")
VAD.register("silero", "npc.vad.silero:SileroVad")

ASR = Registry("asr")
ASR.register("whisper", "npc.asr.whisper:WhisperAsr")
ASR.register("riva", "npc.asr.riva:RivaAsr")
