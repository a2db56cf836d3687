"""The hangar world: engine actions change it, or are refused in plain words; time runs."""

from __future__ import annotations

from typing import Any

import pytest

from bridge.messages import ActionCall
from npc.designer.validate import validate
from sample_game.world import (
    COLORS,
    DECLARES,
    ENGINE_ACTIONS,
    MAX_CELLS,
    PAINT_CURE_TICKS,
    PRICES,
    RED_EXTRA,
    REPAIR_CREDITS,
    REPAIR_TICKS,
    SLOTS,
    START_STOCK,
    World,
    tools,
)


def call(name: str, **arguments: Any) -> ActionCall:
    return ActionCall(session="s1", turn=1, call_id="c1", name=name, arguments=arguments)


def test_painting_turns_the_mech_and_takes_the_credits() -> None:
    world = World({"renn": 1000})
    ok, result, error = world.apply("renn", call("paint_mech", color="red"))
    assert ok and not error
    mech = world.mech_of("renn")
    assert mech.color == "red" and result == "renn-mech painted red"
    assert world.players["renn"].credits == 1000 - PRICES["paint job"] - RED_EXTRA
    assert world.changes == ["renn-mech: paint grey -> red (290 credits, renn has 710 left)"]


def test_not_enough_credits_is_refused_and_changes_nothing() -> None:
    world = World({"dax": 30})
    before = world.snapshot()
    ok, result, error = world.apply("dax", call("paint_mech", color="blue"))
    assert not ok and result is None
    assert error == "a blue paint job costs 250 credits and dax has only 30"
    assert world.snapshot() == before and world.changes == []


def test_paint_cures_and_a_repair_finishes_as_the_ticks_pass() -> None:
    world = World({"renn": 1000})
    world.apply("renn", call("paint_mech", color="blue"))
    ok, result, _ = world.apply("renn", call("repair_part", part="legs"))
    assert ok and result == "legs in repair, ready in 2 s"
    mech = world.mech_of("renn")
    assert mech.parts["legs"].condition == 55 and mech.wet_ticks == PAINT_CURE_TICKS
    world.step(REPAIR_TICKS - 1)
    assert mech.parts["legs"].condition == 55 and "legs" in mech.repairs
    world.step()
    assert mech.parts["legs"].condition == 100 and not mech.repairs
    world.step(PAINT_CURE_TICKS)
    assert mech.wet_ticks == 0 and world.tick == REPAIR_TICKS + PAINT_CURE_TICKS
    assert world.changes[-2:] == ["renn-mech: legs repaired, condition 100",
                                  "renn-mech: the blue paint has cured"]
    assert world.players["renn"].credits == 1000 - PRICES["paint job"] - REPAIR_CREDITS
    ok, _, error = world.apply("renn", call("repair_part", part="legs"))
    assert not ok and error == "the legs is not damaged"


def test_a_part_swaps_only_for_one_that_fits() -> None:
    world = World({"renn": 1000})
    ok, _, error = world.apply("renn", call("swap_part", part="weapon", new="strider legs"))
    assert not ok and "does not fit the weapon" in error
    ok, result, _ = world.apply("renn", call("swap_part", part="weapon", new="laser"))
    assert ok and result == "laser fitted as the weapon"
    assert world.mech_of("renn").weapons == ["laser"]
    assert world.mech_of("renn").parts["weapon"].condition == 100


def test_the_stores_hand_out_what_they_have_within_the_rules() -> None:
    world = World({"renn": 1000})
    ok, result, _ = world.apply("renn", call("give_item", item="power cell", count=3))
    assert ok and result == "3 x power cell handed to renn"
    assert world.stock["power cell"] == START_STOCK["power cell"] - 3
    ok, _, error = world.apply("renn", call("give_item", item="power cell", count=2))
    assert not ok and f"at most {MAX_CELLS} spare power cells" in error
    world.stock["actuator"] = 1
    ok, _, error = world.apply("renn", call("give_item", item="actuator", count=2))
    assert not ok and error == "only 1 actuator left in the stores"
    assert world.players["renn"].inventory == {"power cell": 3}


def test_doors_open_once_and_unknown_actions_are_refused() -> None:
    world = World({"renn": 1000})
    assert world.apply("renn", call("open_door", door="armory"))[0]
    assert world.doors["armory"]
    assert world.apply("renn", call("open_door", door="armory"))[2] == (
        "the armory door is already open")
    assert world.apply("renn", call("launch_missiles"))[2] == "the hangar cannot launch_missiles"
    assert world.apply("nobody", call("open_door", door="bay 7"))[2] == (
        "there is no pilot nobody in the hangar")
    ok, _, error = world.apply("renn", call("paint_mech", colour="red"))
    assert not ok and "paint_mech cannot take" in error


def test_a_session_handler_brings_the_player_in() -> None:
    world = World()
    handle = world.handler("mara")
    assert handle(call("paint_mech", color="green"))[0]
    assert world.mech_of("mara").color == "green"


@pytest.mark.parametrize("name", sorted(ENGINE_ACTIONS))
def test_declared_actions_match_what_the_world_knows(name: str) -> None:
    props = ENGINE_ACTIONS[name]["function"]["parameters"]["properties"]
    known = {
        "color": list(COLORS),
        "part": list(SLOTS),
        "new": [m for models in SLOTS.values() for m in models],
        "item": list(START_STOCK),
        "door": ["armory", "bay 7", "cargo lift"],
    }
    for key, schema in props.items():
        if "enum" in schema:
            assert schema["enum"] == known[key], key
    assert any(name in names for names in DECLARES.values())
    assert validate(ENGINE_ACTIONS["give_item"]["function"]["parameters"],
                    {"item": "wrench", "count": 9})


def test_each_npc_gets_its_own_engine_actions() -> None:
    assert [t["function"]["name"] for t in tools("brakka")] == [
        "paint_mech", "repair_part", "swap_part", "open_door"]
    assert [t["function"]["name"] for t in tools("quartermaster")] == ["give_item", "open_door"]
    assert tools("smuggler") == [] and tools("nobody") == []


def test_walking_in_and_damage_become_game_events_for_the_npcs() -> None:
    world = World({"renn": 1000})
    world.enter("renn", "workshop")
    world.damage("renn", "arms", 30)
    world.damage("renn", "arms", 90)  # condition stops at 0
    assert world.players["renn"].place == "workshop"
    assert world.mech_of("renn").parts["arms"].condition == 0
    names = [(e.name, e.payload, e.players) for e in world.events]
    assert names == [
        ("player-entered", {"player": "renn", "place": "workshop"}, ["renn"]),
        ("mech-damaged",
         {"mech": "renn-mech", "owner": "renn", "part": "arms", "condition": 50}, []),
        ("mech-damaged",
         {"mech": "renn-mech", "owner": "renn", "part": "arms", "condition": 0}, []),
    ]
    with pytest.raises(ValueError, match="no place 'moon'"):
        world.enter("renn", "moon")
    with pytest.raises(ValueError, match="has no wings"):
        world.damage("renn", "wings", 5)
    assert len(world.events) == 3
