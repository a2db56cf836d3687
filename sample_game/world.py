"""The hangar as the engine holds it: mechs, pilots, stores, doors, on a fixed 20 Hz tick.

Headless: nothing draws it. The NPCs' engine actions (declared at session-open from
scenarios/actions.json, OpenAI tools form) reach `World.apply`, which checks them against
the world (credits, stock, what fits where) and changes it, or refuses with a plain reason
the NPC then puts in its own words. A success's result is a short line, not data: the
line the NPC said while acting is enough, so the brain writes no follow-up line for it.
Timed work (paint curing, repairs) advances with `step()`, one tick at a time, as a game
loop would call it. What the NPCs should hear about (a pilot walks into a place, a mech
takes damage) is queued in `events` as game events for the engine to send
(sample_game/scripts/hangar.py reacts to them).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from bridge.messages import ActionCall
from sample_game import HERE

TICK_HZ = 20  # World.step() calls per game second
PAINT_CURE_TICKS = 3 * TICK_HZ  # wet paint, a game-time stand-in for the lore's "a day"
REPAIR_TICKS = 2 * TICK_HZ  # a part under repair comes back at full condition after this
SCENARIOS = json.loads((HERE / "scenarios" / "actions.json").read_text(encoding="utf-8"))
ENGINE_ACTIONS: dict[str, dict[str, Any]] = SCENARIOS["engine_actions"]
DECLARES: dict[str, list[str]] = SCENARIOS["declares"]

# Credits, as sample_game/lore tells them (Brakka's board, the stores catalogue).
PRICES = {"actuator": 450, "power cell": 80, "cooling pump": 260, "armor plate": 90,
          "paint job": 250}
RED_EXTRA = 40  # "red paint is always the first to chip"
REPAIR_CREDITS = 120  # per part
COLORS = ("red", "blue", "green", "black", "white", "yellow")
SLOTS = {  # a mech's parts and the models that fit each
    "legs": ("walker legs", "strider legs"),
    "arms": ("servo arms", "heavy arms"),
    "reactor": ("fusion core", "lantern core"),
    "cockpit": ("glass cockpit", "armored cockpit"),
    "weapon": ("autocannon", "laser", "missile pod"),
}
MODEL_PRICE = 450  # any replacement part, fitted
START_STOCK = {"power cell": 40, "cooling pump": 6, "actuator": 4, "wrench": 12, "med kit": 20}
MAX_CELLS = 4  # Dock Authority: no pilot holds more than four spare power cells
PLACES = {
    "mech bay": "Hangar Bay 7's floor: twelve berths around the Stork crane",
    "workshop": "Brakka's workshop at berth 3",
    "stores": "the caged window on the mezzanine, up the yellow stairs by berth 5",
    "north hangar": "the reactor hall, through the blast door at the back of the bay",
    "dock": "the pressure doors to the transit tram and the docks",
    "armory": "behind the armory door; cleared pilots only",
}
DOORS = ("armory", "bay 7", "cargo lift")


@dataclass(frozen=True, slots=True)
class WorldEvent:
    """Something the NPCs may react to: sent as a `game-event` (name, payload, players)."""

    name: str  # "player-entered", "mech-damaged"
    payload: dict[str, Any]
    players: list[str]  # the players concerned; empty: everyone nearby


@dataclass
class Part:
    model: str
    condition: int  # 0-100


@dataclass
class Mech:
    id: str
    owner: str
    color: str
    parts: dict[str, Part]
    wet_ticks: int = 0  # > 0 while fresh paint cures
    repairs: dict[str, int] = field(default_factory=dict)  # slot -> ticks left

    @property
    def weapons(self) -> list[str]:
        return [p.model for slot, p in self.parts.items() if slot == "weapon"]


@dataclass
class Player:
    id: str
    credits: int
    mech: str
    place: str = "mech bay"
    inventory: dict[str, int] = field(default_factory=dict)


def new_mech(mech_id: str, owner: str) -> Mech:
    worn = {"legs": 55, "arms": 80, "reactor": 70, "cockpit": 90, "weapon": 85}
    parts = {slot: Part(models[0], worn[slot]) for slot, models in SLOTS.items()}
    return Mech(mech_id, owner, "grey", parts)


class World:
    """The hangar's state; `apply` runs an NPC's engine action, `step` advances time."""

    def __init__(self, players: dict[str, int] | None = None) -> None:
        self.tick = 0
        self.players: dict[str, Player] = {}
        self.mechs: dict[str, Mech] = {}
        self.stock = dict(START_STOCK)
        self.doors = dict.fromkeys(DOORS, False)  # door -> open
        self.changes: list[str] = []  # what happened, in words, oldest first
        self.events: list[WorldEvent] = []  # game events for the NPCs, oldest first
        for pid, credits in (players or {}).items():
            self.join(pid, credits)

    def join(self, player: str, credits: int = 1000) -> Player:
        """A pilot walks in with their mech (grey, worn); returns them."""
        if player not in self.players:
            mech = new_mech(f"{player}-mech", player)
            self.mechs[mech.id] = mech
            self.players[player] = Player(player, credits, mech.id)
        return self.players[player]

    def enter(self, player: str, place: str) -> None:
        """`player` walks into `place` (one of PLACES); the NPCs there hear of it."""
        if place not in PLACES:
            raise ValueError(f"no place {place!r}; there is {', '.join(PLACES)}")
        self.join(player).place = place
        self._changed(f"{player} walks into the {place}")
        self.events.append(WorldEvent("player-entered", {"player": player, "place": place},
                                      [player]))

    def damage(self, player: str, part: str, amount: int) -> None:
        """`player`'s mech takes `amount` damage to `part` (a training accident, a brawl)."""
        mech = self.mech_of(player)
        if part not in mech.parts:
            raise ValueError(f"a mech has no {part}; it has {', '.join(mech.parts)}")
        hit = mech.parts[part]
        hit.condition = max(0, hit.condition - amount)
        self._changed(f"{mech.id}: {part} damaged, condition {hit.condition}")
        self.events.append(WorldEvent(
            "mech-damaged",
            {"mech": mech.id, "owner": player, "part": part, "condition": hit.condition},
            [],
        ))

    def mech_of(self, player: str) -> Mech:
        return self.mechs[self.players[player].mech]

    def step(self, ticks: int = 1) -> None:
        """Advance the world `ticks` ticks (1/TICK_HZ game seconds each)."""
        for _ in range(ticks):
            self.tick += 1
            for mech in self.mechs.values():
                if mech.wet_ticks:
                    mech.wet_ticks -= 1
                    if not mech.wet_ticks:
                        self._changed(f"{mech.id}: the {mech.color} paint has cured")
                for slot in list(mech.repairs):
                    mech.repairs[slot] -= 1
                    if not mech.repairs[slot]:
                        del mech.repairs[slot]
                        mech.parts[slot].condition = 100
                        self._changed(f"{mech.id}: {slot} repaired, condition 100")

    def handler(self, player: str) -> Callable[[ActionCall], tuple[bool, Any, str]]:
        """The `on_action` for a session of `player` (who joins if new)."""
        self.join(player)
        return lambda call: self.apply(player, call)

    def apply(self, player: str, call: ActionCall) -> tuple[bool, Any, str]:
        """Run one engine action for `player`: (ok, result, error in plain words)."""
        act = getattr(self, f"_{call.name}", None)
        if call.name not in ENGINE_ACTIONS or act is None:
            return False, None, f"the hangar cannot {call.name}"
        if player not in self.players:
            return False, None, f"there is no pilot {player} in the hangar"
        try:
            ok, result, error = act(self.players[player], **call.arguments)
        except (TypeError, KeyError, ValueError) as e:
            return False, None, f"{call.name} cannot take {call.arguments}: {e}"
        return ok, result, error

    def snapshot(self) -> dict[str, Any]:
        """Everything, JSON-ready (for reports and tests)."""
        return {
            "tick": self.tick,
            "players": {k: asdict(v) for k, v in self.players.items()},
            "mechs": {k: asdict(v) for k, v in self.mechs.items()},
            "stock": dict(self.stock),
            "doors": dict(self.doors),
        }

    # -- the engine actions ---------------------------------------------------------------

    def _paint_mech(self, p: Player, color: str) -> tuple[bool, Any, str]:
        mech = self.mech_of(p.id)
        if color not in COLORS:
            return False, None, f"there is no {color} paint; there is {', '.join(COLORS)}"
        if mech.color == color:
            return False, None, f"the mech is already {color}"
        cost = PRICES["paint job"] + (RED_EXTRA if color == "red" else 0)
        if not self._pay(p, cost):
            return False, None, _short(p, cost, f"a {color} paint job")
        before, mech.color, mech.wet_ticks = mech.color, color, PAINT_CURE_TICKS
        self._changed(f"{mech.id}: paint {before} -> {color} ({cost} credits, "
                      f"{p.id} has {p.credits} left)")
        return True, f"{mech.id} painted {color}", ""

    def _repair_part(self, p: Player, part: str) -> tuple[bool, Any, str]:
        mech = self.mech_of(p.id)
        if part not in mech.parts:
            return False, None, f"a mech has no {part}; it has {', '.join(mech.parts)}"
        if part in mech.repairs:
            return False, None, f"the {part} is already being repaired"
        if mech.parts[part].condition >= 100:
            return False, None, f"the {part} is not damaged"
        if not self._pay(p, REPAIR_CREDITS):
            return False, None, _short(p, REPAIR_CREDITS, f"repairing the {part}")
        mech.repairs[part] = REPAIR_TICKS
        self._changed(f"{mech.id}: {part} repair started ({REPAIR_CREDITS} credits, "
                      f"{p.id} has {p.credits} left)")
        return True, f"{part} in repair, ready in {REPAIR_TICKS / TICK_HZ:.0f} s", ""

    def _swap_part(self, p: Player, part: str, new: str) -> tuple[bool, Any, str]:
        mech = self.mech_of(p.id)
        if part not in SLOTS:
            return False, None, f"a mech has no {part}; it has {', '.join(SLOTS)}"
        if new not in SLOTS[part]:
            return False, None, f"a {new} does not fit the {part}; {' or '.join(SLOTS[part])} do"
        old = mech.parts[part].model
        if old == new:
            return False, None, f"the {part} already is a {new}"
        if not self._pay(p, MODEL_PRICE):
            return False, None, _short(p, MODEL_PRICE, f"a {new}")
        mech.parts[part] = Part(new, 100)
        self._changed(f"{mech.id}: {part} {old} -> {new} ({MODEL_PRICE} credits)")
        return True, f"{new} fitted as the {part}", ""

    def _give_item(self, p: Player, item: str, count: int = 1) -> tuple[bool, Any, str]:
        if item not in self.stock:
            return False, None, f"the stores do not keep {item}"
        if not 1 <= count <= 5:
            return False, None, "the stores hand out 1 to 5 of a thing at a time"
        if self.stock[item] < count:
            return False, None, f"only {self.stock[item]} {item} left in the stores"
        held = p.inventory.get(item, 0)
        if item == "power cell" and held + count > MAX_CELLS:
            return False, None, (f"a pilot may hold at most {MAX_CELLS} spare power cells "
                                 f"and {p.id} already has {held}")
        self.stock[item] -= count
        p.inventory[item] = held + count
        self._changed(f"stores: {count} x {item} to {p.id} ({self.stock[item]} left)")
        return True, f"{count} x {item} handed to {p.id}", ""

    def _open_door(self, p: Player, door: str) -> tuple[bool, Any, str]:
        if door not in self.doors:
            return False, None, f"there is no {door} door"
        if self.doors[door]:
            return False, None, f"the {door} door is already open"
        self.doors[door] = True
        self._changed(f"door: {door} opens for {p.id}")
        return True, f"the {door} door is open", ""

    def _pay(self, p: Player, credits: int) -> bool:
        if p.credits < credits:
            return False
        p.credits -= credits
        return True

    def _changed(self, what: str) -> None:
        self.changes.append(what)


def _short(p: Player, cost: int, what: str) -> str:
    return f"{what} costs {cost} credits and {p.id} has only {p.credits}"


def tools(npc: str) -> list[dict[str, Any]]:
    """The engine actions the hangar declares when it opens a session with `npc`."""
    return [ENGINE_ACTIONS[name] for name in DECLARES.get(npc, [])]
