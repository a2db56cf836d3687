"""The hangar's Python actions: what Brakka, Ilse, Okoro and Vex can do in the brain.

Each is a plain function under `@action`; its JSON Schema comes from the type hints and
the docstring (docs/designer.md). Engine actions (painting a mech, opening a door) are
declared by the game at session-open instead.
"""

from __future__ import annotations

from typing import Annotated, Literal

from npc.designer import ActionContext, Range, action

Part = Literal["actuator", "power cell", "cooling pump", "armor plate", "paint job"]

PRICES = {  # credits; sample_game/lore/ tells the same prices
    "actuator": 450,
    "power cell": 120,
    "cooling pump": 300,
    "armor plate": 800,
    "paint job": 150,
}

STOCK = {"power cell": 40, "cooling pump": 6, "actuator": 4, "wrench": 12, "med kit": 20}

CLEARED = {"renn", "mara", "dax"}


@action
def quote_price(part: Part) -> dict[str, object]:
    """Look up what a part or service costs in the hangar, in credits.

    Args:
        part: the part or service the player asks about.
    """
    return {"part": part, "credits": PRICES[part]}


@action
def give_item(
    ctx: ActionContext,
    item: Literal["power cell", "cooling pump", "actuator", "wrench", "med kit"],
    count: Annotated[int, Range(1, 5)] = 1,
) -> dict[str, object]:
    """Hand supplies from the stores to the player.

    Args:
        item: what the player asked for.
        count: how many, 1 to 5.
    """
    if STOCK[item] < count:
        raise ValueError(f"only {STOCK[item]} {item} left in the stores")
    STOCK[item] -= count
    ctx.change_relationship("trust", 1)
    return {"item": item, "count": count, "left": STOCK[item]}


@action
def repair_mech(ctx: ActionContext, part: Literal["legs", "arms", "reactor", "cockpit"]) -> str:
    """Repair a part of the player's mech.

    Args:
        part: the damaged part.
    """
    ctx.change_relationship("trust", 1)
    return f"{part} repaired"


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
