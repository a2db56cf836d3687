"""The Npc handle through the bridge on a FakeLlm: remember, relationships, steering, actions
and prompted lines, as a game event's hook uses them."""

from __future__ import annotations

from pathlib import Path

from bridge.messages import ActionCall, GameEvent
from npc.mind.proactive import OWN_WORDS
from tests.helpers import engine, run, running, talk
from tests.mind_helpers import PAINT, FakeLlm, reply
from tests.script_helpers import scripted
from tests.test_script_goals import line
from tests.test_script_hooks import last_user, replies

TIP = """
@on_event("tip", npc="brakka")
def tip(npc: Npc, event: Event) -> None:
    npc.remember(f"The pilot tipped {event.payload['credits']} credits.")
    npc.relationship("trust", 5)
    npc.steer(humor=4)
    npc.act("paint_mech", color="blue")
    npc.prompt("Thank the pilot for the tip.")
"""


def test_a_hook_remembers_warms_steers_acts_and_prompts_a_line(tmp_path: Path) -> None:
    llm = FakeLlm(reply("Much obliged, kid."), reply("Hello yourself."))
    brain = scripted(llm, tmp_path, TIP)
    calls: list[ActionCall] = []

    def paint(call: ActionCall) -> tuple[bool, object, str]:
        calls.append(call)
        return True, None, ""

    async def scenario() -> None:
        async with running(brain) as server, engine(server) as client:
            s = await client.open_session("brakka", actions=[PAINT], on_action=paint)
            await client.send(GameEvent(name="tip", payload={"credits": 50}))
            call = await s.next(5.0)  # the action goes out at once; the line waits its turn
            assert isinstance(call, ActionCall) and call.name == "paint_mech", call
            assert await line(s) == "Much obliged, kid."
            made = replies(llm)[-1].messages[-1].content
            assert made.endswith(f"(Thank the pilot for the tip. {OWN_WORDS})"), made
            assert [c.arguments for c in calls] == [{"color": "blue"}]
            assert brain.memory.relationship("brakka", "player-1") == {"trust": 5}
            turn = await talk(s, "hello")
            assert turn.text == "Hello yourself."
            heard = last_user(llm)
            assert "You remember: The pilot tipped 50 credits." in heard, heard
            assert "trust +5" in heard, heard
            conv = next(iter(brain.conversations))
            assert conv.attributes()["humor"] == 4
            stored = brain.memory.recent("brakka", "player-1", 20)
            assert any(t.role == "action" and "paint_mech" in t.text for t in stored)

    run(scenario)
