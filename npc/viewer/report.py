"""The HTML report of a played scene: each turn replayable (audio, text, face), latencies."""

from __future__ import annotations

import datetime
import html
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bridge.errors import ConfigError
from npc.viewer.assets import stage, static_text
from npc.viewer.reply import load_reply

REPORT = "report.html"


@dataclass(frozen=True, slots=True)
class ReportTurn:
    """One turn of the scene, as the report shows it."""

    npc: str  # who answered
    player: str  # what the player typed, or the transcript of what they said
    line: str  # the NPC's line
    actions: list[str] = field(default_factory=list)  # e.g. 'paint_mech {"color": "red"} -> ok'
    changes: list[str] = field(default_factory=list)  # world changes, e.g. "mech-1 paint: red"
    latency_ms: dict[str, float] = field(default_factory=dict)  # stage -> ms, in column order
    reply: str = ""  # the saved reply folder (save_turn), relative to the report's folder


def write_report(out: Path, turns: list[ReportTurn], title: str = "NPC Bridge scene") -> Path:
    """Write out/report.html and return its path.

    The page needs no server: face frames are embedded as JSON, the script and style
    inline, and each turn's audio is its reply folder's npc.wav by relative path (so keep
    the folders next to the report). A reply folder that cannot be read is a ConfigError.
    """
    out.mkdir(parents=True, exist_ok=True)
    data = [_turn_data(out, t) for t in turns]
    payload = json.dumps(data, separators=(",", ":")).replace("<", "\\u003c")  # inert in <script>
    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    page = _PAGE.format(
        title=html.escape(title),
        subtitle=html.escape(f"{len(turns)} turns, written {stamp}"),
        css=static_text("viewer.css"),
        stage=stage("Play the scene"),
        turns="\n".join(_turn_html(i, t) for i, t in enumerate(turns)),
        latency=_latency_table(turns),
        payload=payload,
        face_js=static_text("face.js"),
        report_js=static_text("report.js"),
    )
    path = out / REPORT
    path.write_text(page, encoding="utf-8")
    return path


def _turn_data(out: Path, turn: ReportTurn) -> dict[str, Any]:
    base: dict[str, Any] = {"npc": turn.npc, "player": turn.player, "line": turn.line}
    if not turn.reply:
        return {**base, "audio": None, "face": {}, "emotions": []}
    folder = out / turn.reply
    try:
        reply = load_reply(folder)
    except ConfigError as e:
        raise ConfigError(f"report turn with {turn.npc}: {e.reason}") from e
    rel = (Path(turn.reply) / "npc.wav").as_posix()
    page = reply.page(rel)
    return {**base, "audio": page["audio"], "face": page["face"], "emotions": page["emotions"]}


def _turn_html(i: int, t: ReportTurn) -> str:
    e = html.escape
    parts = [
        f'<article class="turn"><h2>Turn {i + 1}: {e(t.npc)} '
        f'<button data-play="{i}">Play</button></h2>',
        f'<p><b>Player:</b> {e(t.player) or "<i>(nothing)</i>"}</p>',
        f"<p><b>{e(t.npc)}:</b> {e(t.line)}</p>",
    ]
    if t.actions:
        parts.append("<p class='muted'>Actions</p><ul class='actions'>")
        parts += [f"<li>{e(a)}</li>" for a in t.actions]
        parts.append("</ul>")
    if t.changes:
        parts.append("<p class='muted'>World changes</p><ul class='changes'>")
        parts += [f"<li>{e(c)}</li>" for c in t.changes]
        parts.append("</ul>")
    if not t.reply:
        parts.append("<p class='muted'>(no saved reply: text only)</p>")
    parts.append("</article>")
    return "\n".join(parts)


def _latency_table(turns: list[ReportTurn]) -> str:
    stages: list[str] = []
    for t in turns:
        stages += [k for k in t.latency_ms if k not in stages]
    if not stages:
        return "<p class='muted'>No latencies recorded.</p>"
    e = html.escape
    head = "".join(f"<th>{e(s)}</th>" for s in stages)
    rows = []
    for i, t in enumerate(turns):
        cells = "".join(
            f"<td>{t.latency_ms[s]:.0f}</td>" if s in t.latency_ms else "<td>-</td>"
            for s in stages
        )
        rows.append(f"<tr><td>{i + 1} {e(t.npc)}</td>{cells}</tr>")
    return (
        f"<table id='latency'><tr><th>turn</th>{head}</tr>{''.join(rows)}</table>"
        "<p class='muted'>Milliseconds from the start of each turn.</p>"
    )


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{title}</title>
<style>{css}</style></head>
<body class="report">
<header><h1>{title}</h1><p>{subtitle}</p></header>
<main>
{stage}
<section class="side">
{turns}
<h2>Latency by stage (ms)</h2>
{latency}
</section>
</main>
<script type="application/json" id="npc-turns">{payload}</script>
<script>{face_js}</script>
<script>{report_js}</script>
</body></html>
"""
