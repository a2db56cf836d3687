"""Value rules shared by several messages: sample rates, ids, SteerLM attributes."""

from __future__ import annotations

from bridge import errors
from bridge.errors import ProtocolError

# Player and NPC audio rates the protocol accepts, Hz (PCM16 little-endian).
SAMPLE_RATES = (16000, 22050, 24000, 44100, 48000)
MAX_ID_LENGTH = 128

# NVIDIA SteerLM (NeMo-Aligner) attributes, in their canonical prompt order; each 0-4.
STEER_ATTRIBUTES = (
    "quality",
    "toxicity",
    "humor",
    "creativity",
    "helpfulness",
    "correctness",
    "coherence",
    "complexity",
    "verbosity",
)
STEER_MIN, STEER_MAX = 0, 4


def check_rate(rate: int, name: str = "sample_rate") -> None:
    """Refuse a sample rate the protocol does not accept."""
    if rate not in SAMPLE_RATES:
        accepted = ", ".join(str(r) for r in SAMPLE_RATES)
        raise ProtocolError(
            f"{name} {rate} Hz is not supported; use one of {accepted}",
            code=errors.UNSUPPORTED_RATE,
        )


def check_session_id(session: str) -> None:
    """Session ids are chosen by the engine: non-empty, at most MAX_ID_LENGTH characters."""
    if not session or len(session) > MAX_ID_LENGTH:
        raise ProtocolError(
            f"session id must be 1-{MAX_ID_LENGTH} characters, got {len(session)}",
            code=errors.BAD_FIELD,
        )


def check_steer(attributes: dict[str, int]) -> None:
    """Refuse unknown SteerLM attribute names and values outside 0-4."""
    for name, value in attributes.items():
        if name not in STEER_ATTRIBUTES:
            raise ProtocolError(
                f"unknown steer attribute '{name}'; known: {', '.join(STEER_ATTRIBUTES)}",
                code=errors.BAD_FIELD,
            )
        if not STEER_MIN <= value <= STEER_MAX:
            raise ProtocolError(
                f"steer attribute '{name}' must be {STEER_MIN}-{STEER_MAX}, got {value}",
                code=errors.BAD_FIELD,
            )
