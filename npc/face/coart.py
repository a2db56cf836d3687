"""Coarticulation: viseme targets blended by dominance functions, and lip closure for /p b m/."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from npc.face.visemes import JAW, NEUTRAL, PP, SPREAD_MS, TARGETS, Track

REACH_MS = 100.0  # a phone moves the face at most this far outside its core (look-ahead bound)
CORE = 0.5  # the central part of a phone (fraction of its length) holds its target fully
BACKGROUND = 0.02  # dominance of the neutral face where no phone is near: audio-driven jaw
CLOSE_RAMP_MS = 50.0  # lips seal and part over this time around a bilabial's centre
CLOSE_CORE_MS = 8.0  # a bilabial's lips stay sealed at least this far either side of its centre
# Lip shapes lead the sound: the mouth forms before the sound leaves it, and piper's phoneme
# spans run late (each holds the padding after it): measured, vowel loudness peaks ~35 ms
# before the middle of its span and stop closures ~30-50 ms before theirs. A bilabial stays
# sealed from its led centre through its own centre.
LEAD_MS = 30.0
AHEAD_MS = REACH_MS + LEAD_MS  # how far before a phone's start it can move the face


@dataclass(frozen=True, slots=True)
class Mouth:
    """Speech shapes at some frame times, before loudness: weights over visemes.MOUTH."""

    shapes: np.ndarray  # float32 [n, len(MOUTH)]
    jaw: np.ndarray  # float32 [n]: how far this sound opens the jaw at full loudness
    closure: np.ndarray  # float32 [n]: 1 where the lips must be sealed (bilabials)


def mouth_at(times: np.ndarray, track: Track, rate: int) -> Mouth:
    """The coarticulated mouth at `times` (samples): sum of D_i * target_i over sum of D_i.

    Each phone's dominance D_i(t) = alpha * (exp(-(d / spread)^2) - exp(-(REACH / spread)^2)),
    d the distance in ms from its core, so it falls continuously to zero at REACH_MS; a weak
    neutral face fills the gaps between phones.
    """
    n = len(times)
    t = times.astype(np.float64)
    near = track
    if n:
        near = track.near(int(t[0]) - _ms(REACH_MS, rate), int(t[-1]) + _ms(AHEAD_MS, rate) + 1)
    if len(near.viseme) == 0:
        shapes = np.repeat(TARGETS[NEUTRAL][None, :], n, axis=0)
        return Mouth(shapes, np.full(n, JAW[NEUTRAL], np.float32), np.zeros(n, np.float32))
    vis = near.viseme.astype(np.intp)
    lead = LEAD_MS * rate / 1000.0
    centre = (near.start + near.end) / 2.0 - lead
    half = (near.end - near.start) / 2.0
    # Distance in ms from each phone's core, [n, phones].
    dist = np.maximum(np.abs(t[:, None] - centre[None, :]) - CORE * half[None, :], 0.0)
    dist *= 1000.0 / rate
    spread = SPREAD_MS[vis][None, :]
    dom = np.exp(-np.square(dist / spread)) - np.exp(-np.square(REACH_MS / spread))
    dom = near.dominance[None, :] * np.maximum(dom, 0.0)
    total = dom.sum(axis=1) + BACKGROUND
    shapes = (dom @ TARGETS[vis] + BACKGROUND * TARGETS[NEUTRAL]) / total[:, None]
    jaw = (dom @ JAW[vis] + BACKGROUND * JAW[NEUTRAL]) / total
    closure = np.zeros(n, np.float64)
    lips = vis == PP
    if lips.any():
        core = np.maximum(CORE * half[lips], CLOSE_CORE_MS * rate / 1000.0)[None, :]
        c = centre[lips][None, :]
        d = np.maximum(np.maximum(c - core - t[:, None], t[:, None] - (c + lead + core)), 0.0)
        d *= 1000.0 / rate
        bump = np.where(d < CLOSE_RAMP_MS, 0.5 + 0.5 * np.cos(np.pi * d / CLOSE_RAMP_MS), 0.0)
        closure = bump.max(axis=1)
    return Mouth(shapes.astype(np.float32), jaw.astype(np.float32), closure.astype(np.float32))


def _ms(ms: float, rate: int) -> int:
    return int(np.ceil(ms * rate / 1000.0))
