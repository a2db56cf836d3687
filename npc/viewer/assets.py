"""The viewer's static files (page, script, style), shipped next to this module."""

from __future__ import annotations

from pathlib import Path

STATIC = Path(__file__).parent / "static"
FILES = ("index.html", "face.js", "viewer.js", "report.js", "viewer.css")
TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css"}


def static_text(name: str) -> str:
    """The text of one static file (a name from FILES)."""
    if name not in FILES:
        raise KeyError(name)
    return (STATIC / name).read_text(encoding="utf-8")
