"""The viewer's static files (page, script, style), shipped next to this module."""

from __future__ import annotations

from pathlib import Path

STATIC = Path(__file__).parent / "static"
FILES = ("index.html", "face.js", "viewer.js", "report.js", "viewer.css")
TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css"}


# The face, the audio and the line: the same block in the served page and in the report.
STAGE = """<section id="stage">
<div id="face"></div>
<audio id="audio" controls preload="auto"></audio>
<div class="now"><span class="who" id="who"></span><span class="emotion" id="emotion"></span>
<p class="line" id="line"></p>
<button id="play">{play}</button></div>
</section>"""


def stage(play: str) -> str:
    """The stage block with its play button labelled `play`."""
    return STAGE.format(play=play)


def static_text(name: str) -> str:
    """The text of one static file (a name from FILES)."""
    if name not in FILES:
        raise KeyError(name)
    return (STATIC / name).read_text(encoding="utf-8")
