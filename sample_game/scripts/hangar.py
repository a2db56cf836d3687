"""The hangar's behaviour scripts: a greeting, a reaction, a secret and idle banter.

What each does (docs/scripting.md walks through this file):
- Brakka greets a pilot who walks into the mech bay (a game event, with a cooldown).
- Quartermaster Ilse reacts when a mech is damaged anywhere in the hangar.
- Brakka's secret: asked about the reactor, he tells the pilot about the cracked shielding,
  once per pilot, and remembers that he did.
- When nobody has said anything for a while, Brakka and Ilse banter (if both are in the
  conversation), at most every five minutes.
"""

from __future__ import annotations

from npc.script import Event, Idle, Intent, Npc, Trigger, goal

GREETINGS = [
    "Another pilot in my bay. What did you break this time, kid?",
    "Mind the crane, kid. What do you need?",
    "You again? Fine. Tell me what's rattling.",
]


@goal(
    "greet",
    npc="brakka",
    when=Event("player-entered", where=lambda e: e.payload.get("place") == "mech bay"),
    cooldown_s=300,
)
def greet(npc: Npc, trigger: Trigger) -> None:
    """A pilot walked into the bay: Brakka looks up from his work."""
    times = npc.goals.state("greet").fired
    npc.say(GREETINGS[times % len(GREETINGS)], emotion="neutral")


@goal("hit-reaction", npc="quartermaster", when=Event("mech-damaged"), cooldown_s=20)
def react_to_damage(npc: Npc, trigger: Trigger) -> None:
    """A mech took damage: Ilse counts what it will cost the stores."""
    part, left = trigger.payload.get("part", "part"), trigger.payload.get("condition", 0)
    npc.prompt(
        f"A pilot's mech just took a hit: its {part} is down to {left} percent. "
        "React in one short line, thinking of the spare parts it will cost your stores."
    )


@goal(
    "reactor-secret",
    npc="brakka",
    when=Intent(
        "asks about the reactor",
        "what is wrong with the reactor",
        "is the north hangar reactor safe",
        "tell me about the Old Lantern",
    ),
    once=True,
)
def reactor_secret(npc: Npc, trigger: Trigger) -> None:
    """Brakka trusts this pilot with what the crews do not say out loud."""
    npc.say(
        "Keep your voice down, kid. The Old Lantern's shielding cracked last month. "
        "I patch it every night, and the Dock Authority doesn't know.",
        emotion="fear",
    )
    npc.remember("I told this pilot the Old Lantern's shielding is cracked. A secret.")
    npc.relationship("trust", 1)


@goal("idle-banter", npc="brakka", when=Idle(after_s=30), cooldown_s=300)
def banter(npc: Npc, trigger: Trigger) -> bool:
    """A quiet moment on the floor: Brakka needles Ilse about the missing wrench."""
    if "quartermaster" not in npc.present:
        return False  # not fired: Ilse is elsewhere, the cooldown is not spent
    npc.banter("quartermaster", about="who borrowed the last torque wrench", lines=4)
    return True
