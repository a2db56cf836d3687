"""The hangar: a small headless game that uses every part of NPC Bridge."""

from pathlib import Path

HERE = Path(__file__).resolve().parent
NPCS_DIR = HERE / "npcs"
CONFIG = HERE / "hangar.toml"
