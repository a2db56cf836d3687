"""Synthetic distractor lore for the retrieval benchmark: other stations on the same topics.

Each distractor is a short file about some other port (its hangars, reactors, prices,
guards, smugglers, people, history), written from the same everyday vocabulary as the
real lore, so it competes on words and on meaning. What it never does is answer one of
the benchmark's questions for another place: no curfews, store hours, duct passwords or
actuator prices elsewhere, and none of the real lore's names (Halcyon, Bay 7, Brakka).
Such a chunk would be a right answer to a question that names no place, so it would
measure the question's ambiguity, not the retriever. Deterministic for a given seed.
"""

from __future__ import annotations

import random
from pathlib import Path

from npc.bench.lore_topics import FAR_TOPICS, NEAR_TOPICS, TITLES
from npc.rag.lore import Chunk, LoreDoc, chunk_docs

_SYLLABLES = (
    "b br c ch d dr f g gr h j k kr l m n p pr r s sh st t th tr v w z",
    "a e i o u ai ea io ou y",
    "n r l s th nd rk st x m sk ll",
)
_ONSET, _VOWEL, _CODA = (part.split() for part in _SYLLABLES)
GAME_TAGS = ["common", "hangar", "reactor", "mechs", "supplies", "security", "smuggling"]
PLACE_KINDS = ["Port {}", "{} Station", "Outpost {}", "{} Ring", "Fort {}", "{} Deep", "{} Yard"]
ROLES = ["mechanic", "quartermaster", "sergeant", "courier", "reactor tech",
         "pilot", "trader", "medic", "cook", "crane driver", "customs officer"]
PARTS = ["servo motor", "heat sink", "sensor mast", "jump jet nozzle", "targeting lens",
         "hydraulic ram", "gearbox", "foot pad", "cockpit seat", "radio mast", "fuel valve",
         "shock absorber", "torso bearing", "hand claw", "searchlight", "cable loom"]
REAL_ITEMS = ["actuator", "power cell", "cooling pump", "armour plate", "coolant gel canister",
              "myomer bundle", "gyroscope", "rebreather", "ration pack", "paint drum"]
GOODS = ["ice", "ore", "spice", "medicine", "seed stock", "wire", "textiles", "circuit boards",
         "tea", "scrap", "water filters", "fungus cakes"]
FUELS = ["heavy water", "helium three", "molten salt", "deuterium", "liquid sodium"]
DIRECTIONS = ["south", "east", "west", "inner", "upper", "lower"]
GATES = ["tram gate", "lift gate", "customs hall", "cargo gate"]
EVENTS = ["Kessler blockade", "ore riots", "long winter", "guild strike", "Sarn border war",
          "reactor fire"]
SHIPS = ["Quiet Morning", "Brass Heron", "Ninth Daughter", "Slow Tortoise"]
WORDS = ["copper", "lantern", "orchid", "tide", "falcon", "ash", "river", "iron", "winter",
         "velvet", "comet", "thistle", "anchor", "harbour", "cinder", "glass"]

class _Names:
    """Invented names from syllables; each asked-for name is new, so none repeats."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.seen: set[str] = set()

    def word(self) -> str:
        while True:
            parts = [self.rng.choice(_ONSET) + self.rng.choice(_VOWEL)
                     for _ in range(self.rng.choice((1, 2, 2, 3)))]
            name = ("".join(parts) + self.rng.choice(_CODA)).capitalize()
            if name not in self.seen and len(name) > 3:
                self.seen.add(name)
                return name


class _Fields(dict[str, object]):
    """Template fields drawn on first use, so a sentence pays only for what it names."""

    def __init__(self, rng: random.Random, place: str, places: list[str], people: list[str],
                 mechs: list[str]) -> None:
        super().__init__(place=place)
        self.rng, self.places, self.people, self.mechs = rng, places, people, mechs

    def __missing__(self, key: str) -> object:
        rng, pick = self.rng, self.rng.choice
        pools: dict[str, list[str]] = {
            "place": self.places, "person": self.people, "role": ROLES, "part": PARTS,
            "item": REAL_ITEMS, "good": GOODS, "fuel": FUELS,
            "word": WORDS, "mech": self.mechs, "dir": DIRECTIONS,
            "colour": ["red", "orange", "black", "violet"], "gate": GATES,
            "event": EVENTS, "ship": SHIPS, "animal": ["cat", "lizard", "parrot", "ferret"],
            "purpose": ["smelting platform", "research lab", "fuel depot", "prison hulk"],
            "weapon": ["rail gun", "mortar", "flamer", "missile rack"],
        }
        ranges = {
            "n": (1, 31, 1), "n2": (8, 41, 1), "price": (100, 2000, 10), "price2": (50, 900, 10),
            "small": (5, 60, 5), "tiny": (2, 13, 1), "big": (1000, 9000, 100),
            "hours": (2, 31, 1), "tons": (15, 95, 5), "mw": (10, 200, 5), "mw2": (2, 10, 1),
            "count": (2, 7, 1), "days": (3, 31, 1), "minutes": (5, 40, 5),
            "year": (2180, 2271, 1), "year2": (2271, 2291, 1), "years": (2, 31, 1),
            "speed": (30, 120, 5),
        }
        base = key.rstrip("2")
        value: object
        if base in pools:
            value = pick(pools[base])
        else:
            value = rng.randrange(*ranges[key])
            if key == "n" and value == 7:
                value = 17  # "bay 7" and "berth 7" belong to the real lore
        self[key] = value
        return value


def distractor_docs(count: int, seed: int = 7, near: float = 0.5) -> list[LoreDoc]:
    """`count` synthetic lore files about other places, each one topic in 2-3 paragraphs.

    A share `near` of them are on the questions' own subjects (prices, reactors, guards,
    smuggling, ...), the rest on the other things a world's lore covers. Tags are the
    game's tags, drawn at random, so an NPC's scope still holds distractors.
    """
    rng = random.Random(seed)
    names = _Names(rng)
    places = [rng.choice(PLACE_KINDS).format(names.word()) for _ in range(max(20, count // 25))]
    people = [f"{names.word()} {names.word()}" for _ in range(max(40, count // 10))]
    mechs = [names.word() for _ in range(60)]
    near_topics, far_topics = sorted(NEAR_TOPICS), sorted(FAR_TOPICS)
    docs = []
    for i in range(count):
        if rng.random() < near:
            topic = near_topics[i % len(near_topics)]
            templates = NEAR_TOPICS[topic]
        else:
            topic = far_topics[i % len(far_topics)]
            templates = FAR_TOPICS[topic]
        place = rng.choice(places)
        paragraphs = []
        for _ in range(rng.choice((2, 2, 3))):
            sentences = rng.sample(templates, k=rng.randint(3, min(5, len(templates))))
            fields = _Fields(rng, place, places, people, mechs)
            paragraphs.append(" ".join(s.format_map(fields) for s in sentences))
        tags = frozenset({rng.choice(GAME_TAGS)})
        docs.append(LoreDoc(Path(f"synthetic/{topic}_{i:05d}.md"), TITLES[topic].format(place),
                            tags, "\n\n".join(paragraphs)))
    return docs


def distractor_chunks(count: int, seed: int = 7, near: float = 0.5) -> list[Chunk]:
    """Exactly `count` distractor chunks (see distractor_docs)."""
    docs = distractor_docs(count * 3 // 4 + 10, seed, near)
    chunks = chunk_docs(docs)
    while len(chunks) < count:
        docs = distractor_docs(len(docs) * 2, seed, near)
        chunks = chunk_docs(docs)
    return chunks[:count]
