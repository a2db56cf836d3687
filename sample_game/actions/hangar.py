"""The hangar's Python actions: what Brakka, Ilse, Okoro and Vex look up in the brain.

Each is a plain function under `@action`; its JSON Schema comes from the type hints and
the docstring (docs/designer.md). They only look things up (or change how an NPC regards
the player): whatever changes the world (paint, repairs, parts, supplies, doors) is an
engine action the game declares at session-open and applies itself (sample_game/world.py).
"""

from __future__ import annotations

from typing import Literal

from npc.designer import ActionContext, action
from sample_game.world import PRICES

Part = Literal["actuator", "power cell", "cooling pump", "armor plate", "paint job"]

CLEARED = {"renn", "mara", "dax"}


@action
def quote_price(part: Part) -> dict[str, object]:
    """Look up what a part or service costs in the hangar, in credits.

    Args:
        part: the part or service the player asks about.
    """
    return {"part": part, "credits": PRICES[part]}


@action
def check_clearance(pilot: str) -> dict[str, object]:
    """Check whether a pilot is cleared for the armory.

    Args:
        pilot: the pilot's name.
    """
    return {"pilot": pilot, "cleared": pilot.strip().lower() in CLEARED}


@action
def sell_contraband(
    ctx: ActionContext, item: Literal["coolant", "stim pack", "forged permit"]
) -> dict[str, object]:
    """Sell the player something off the books.

    Args:
        item: what the player wants to buy.
    """
    ctx.change_relationship("trust", 2)
    return {"item": item, "credits": {"coolant": 90, "stim pack": 60, "forged permit": 500}[item]}
