"""`npc-bridge face` (alias `face-plot`): speak a line, animate its face, plot the curves."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from npc.face.emotion import EMOTIONS


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "face",
        aliases=["face-plot"],
        help="plot a spoken line's blendshape curves under its waveform",
        description=(
            "Synthesise TEXT with a TTS backend (embedded piper by default), animate the NPC "
            "face from its phonemes and loudness, and write a PNG: the waveform with its "
            "phonemes, then jaw and lip curves, then blinks, brows, smile, gaze and head."
        ),
    )
    p.add_argument("--text", default="Bob, stop! Paint my mech bright blue, please, father.")
    p.add_argument("--out", type=Path, default=Path("docs/img/face.png"), help="PNG to write")
    p.add_argument("--tts", default="piper", help="TTS backend (piper, espeak, riva)")
    p.add_argument("--voice", default="", help="voice name ('' = the backend's default)")
    p.add_argument("--emotion", default="joy", choices=EMOTIONS)
    p.add_argument("--intensity", type=_unit, default=0.6, help="emotion intensity 0..1")
    p.add_argument("--fps", type=int, default=60, choices=(30, 60))
    p.add_argument("--rate", type=int, default=22050, help="audio sample rate (Hz)")
    p.add_argument("--seed", type=int, default=0, help="seed of blinks, gaze and head motion")
    p.set_defaults(run=run)


def _unit(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is outside 0..1")
    return value


def run(args: argparse.Namespace) -> int:
    from npc.face.line import animate_line
    from npc.face.plot import plot_line
    from npc.tts import Voice, build_tts

    tts = build_tts(args.tts)
    try:
        line = animate_line(
            tts, args.text, Voice(name=args.voice), args.rate, args.fps,
            args.emotion, args.intensity, args.seed,
        )  # fmt: skip
    finally:
        tts.close()
    title = f'"{args.text}" ({args.tts}, {args.emotion} {args.intensity:g}, {args.fps} fps)'
    out = plot_line(line, args.out, title)
    print(f"wrote {out}: {len(line.times)} frames over {len(line.pcm) / line.rate:.2f} s")
    return 0
