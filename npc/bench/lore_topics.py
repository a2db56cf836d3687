"""Sentence templates for the benchmark's distractor lore: near topics (the questions' own
subjects, at other places) and far topics (the rest of a game world)."""

from __future__ import annotations

# The subjects the lore questions ask about, never restating an answer for another place.
NEAR_TOPICS: dict[str, list[str]] = {
    "prices": [
        "{person}, the {role} of {place}, sets the prices on the board.",
        "A new {part} costs {price} credits there, or {price2} for a rebuilt one.",
        "Fitting a {part2} takes {hours} hours and is charged at {small} credits an hour.",
        "Pilots grumble that {place} prices went up after the {event}.",
        "Nobody at {place} sells {item}s any more; pilots bring their own from home.",
        "A full refit of a {tons} ton frame runs to {big} credits at {place}.",
        "The {part} on a {mech} is the part pilots at {place} replace most often.",
    ],
    "reactor": [
        "The {dir} hangar of {place} runs on a {fuel} fission pile built by {person} Works.",
        "The pile is cooled by {fuel2} pumped through {count} heat exchangers.",
        "The reactor of {place} was installed in {year} and tripped twice during the {event}.",
        "Reactor techs at {place} belong to the {word} guild and wear {colour} overalls.",
        "Fuel for the {place} reactor comes up from {place2} every {days} days.",
        "The crews of {place} say their reactor hums in the key of the old station anthem.",
        "A leak in the {dir} reactor of {place} in {year2} closed the hangar for {days} days.",
    ],
    "stores": [
        "Stocks of {good} run short every winter at {place}, so {person} keeps a waiting list.",
        "The {role} of {place} once traded a {mech} for a hold full of {good}.",
        "{person} audits the stores ledger of {place} every {days} days.",
        "The stores of {place} lost {count} crates of {good2} in the {event}.",
        "Pilots at {place} joke that the stores have everything but {good}.",
    ],
    "security": [
        "Security at {place} is run by {person}, a former {role}.",
        "Fighting in the {gate} of {place} costs a fine of {price} credits.",
        "The holding cells of {place} are on deck {n} and hold {count} people.",
        "Officers at {place} carry stun batons and wear {colour} armbands.",
        "Drones patrol the cargo holds of {place}, looking for stowaways.",
        "{person} was decorated for stopping a riot at {place} during the {event}.",
    ],
    "watches": [
        "Guards at {place} drill in the {dir} ring gym every morning.",
        "{person} moves officers between posts at {place} every {days} days.",
        "The guard barracks of {place} sleep {count} officers to a cabin.",
        "Alarms from every hangar of {place} ring through to the security office on deck {n}.",
        "New officers at {place} spend their first {days} days on the {gate}.",
    ],
    "smuggling": [
        "Customs at {place} seized {count} crates of {good} from the freighter {ship} in {year2}.",
        "The smuggler {person} was caught at {place} with {good2} sewn into a pressure suit.",
        "Smuggling {good} into {place} carries a fine of {big} credits.",
        "The back room of the {good} shop at {place} opens to the password \"{word} {word2}\".",
        "Old hands at {place} still tell how {person} ran {good} through the {event}.",
    ],
    "people": [
        "{person} is the {role} of {place}, known for a temper and a steady hand.",
        "Before {place}, {person} served on the freighter {ship} for {years} years.",
        "{person} was a pilot in the {event} until a bad fall ended it.",
        "{person} keeps a pet {animal} that rides on a shoulder everywhere.",
        "Traders say {person} can find any {part} faster than anyone at {place}.",
        "{person} plays cards every night with the {role2} of the {dir} ring.",
    ],
    "history": [
        "{place} was built in {year} as a {purpose} and sold to the dock guilds in {year2}.",
        "A fire on the {dir} ring of {place} killed {count} people in {year2}.",
        "Since then {place} has lived on {good} and on mech repairs.",
        "A memorial to lost pilots hangs in the hub of {place}.",
        "The hangar of {place} was widened in {year2} to take {tons} ton frames.",
    ],
    "market": [
        "The market of {place} fills an old cargo hold on deck {n}.",
        "Stalls there sell {good}, {good2} and secondhand parts.",
        "Traders bring news from {place2} along with their {good}.",
        "A {part} from the market of {place} is cheap but rarely lasts a month.",
        "The busiest stall at {place} belongs to {person}, who sells {good}.",
    ],
    "frames": [
        "The {mech} is a {tons} ton frame built by {person} Works, seen often at {place}.",
        "It carries a shoulder {weapon} and a {part} of its own design.",
        "Its {part} wears out faster than on any other frame.",
        "Mechanics at {place} want a deposit of {big} credits before they open one up.",
        "The {mech} was first fielded in the {event}.",
    ],
    "shifts": [
        "Welders at {place} work in pairs and swap every {hours} hours.",
        "The {dir} hangar of {place} closes for cleaning every {days} days.",
        "Crane drivers at {place} train for {days} days before they lift a mech.",
        "{person} runs the hangar roster of {place} from a board by berth {n}.",
        "The {item} racks at {place} are checked at the start of each watch.",
    ],
}

# Everything else a game world's lore talks about, in the same voice and vocabulary.
FAR_TOPICS: dict[str, list[str]] = {
    "moons": [
        "{place} circles a {colour} gas giant with {count} moons.",
        "Storms on the nearest moon last {days} days and can be seen from the {dir} ring.",
        "Prospectors from {place} still comb the moon for {good}.",
        "The moon's night side freezes to minus {tons} degrees.",
        "{person} mapped the moon's canyons in {year} and named the deepest after a lost ship.",
    ],
    "ships": [
        "The freighter {ship} calls at {place} every {days} days with {good}.",
        "Her captain, {person}, has flown the same route for {years} years.",
        "The {ship} carries a crew of {count} and a cargo of {good2}.",
        "The ship's cook is famous for a stew that no one at {place} can copy.",
        "In {year2} the {ship} limped into {place} with a cracked hull after the {event}.",
    ],
    "faith": [
        "The people of {place} light lamps for the drowned on the {dir} ring each spring.",
        "A small shrine to the Wanderer stands on deck {n} of {place}.",
        "Pilgrims travel from {place2} to touch the shrine before a long voyage.",
        "{person} keeps the shrine and sings the old hymns at the change of the year.",
        "Festival week at {place} closes the market and fills the galleys with music.",
    ],
    "politics": [
        "The council of {place} has {count} seats, elected by the dock guilds.",
        "{person} has sat on the council since the {event}.",
        "The council argues every year over the price of {good} from {place2}.",
        "A vote in {year2} gave the {role}s of {place} a seat of their own.",
        "Guild banners in {colour} and grey hang over the council hall of {place}.",
    ],
    "music": [
        "The favourite band at {place} plays drums made from old {part}s.",
        "{person} wrote the ballad of the {event}, still sung in every bar on the {dir} ring.",
        "Dances at {place} run until the lights dim for the night.",
        "A choir of {count} dock workers sings at weddings on {place}.",
        "Songs from {place2} arrive on the freighter {ship} and are copied by hand.",
    ],
    "sports": [
        "Zero-gravity ball is played in the hub of {place} on rest days.",
        "The {word} team of {place} has won the ring cup {count} times.",
        "{person} was the league's best striker until {year2}.",
        "Bets on matches at {place} are taken in {good} as often as in credits.",
        "Crowds of {big} watch the final from the {dir} ring stands.",
    ],
    "families": [
        "The {word} family has lived on {place} for {years} generations.",
        "{person} married into the {word2} clan of {place2} in {year2}.",
        "Children on {place} learn to weld before they learn to swim.",
        "Feuds between the old families of {place} began in the {event}.",
        "A wedding on {place} lasts {count} days and ends with a toast of {good}.",
    ],
    "gardens": [
        "Hydroponic gardens on deck {n} of {place} grow {good} and bitter greens.",
        "{person} tends the gardens and trades cuttings with {place2}.",
        "A blight in {year2} killed half the crops on {place}.",
        "The gardens smell of wet soil, a rare thing in orbit.",
        "Children at {place} are taken to see the gardens once a year.",
    ],
    "medicine": [
        "The clinic of {place} has {count} beds and one tired doctor, {person}.",
        "Cold sickness spreads through {place} every winter with the {good} ships.",
        "Medicine from {place2} costs twice as much after the {event}.",
        "{person} set the bones of {count} pilots after the crash of {year2}.",
        "Burns from welding are the most common injury on {place}.",
    ],
    "news": [
        "Rumour on {place} says the freighter {ship} is carrying more than {good}.",
        "The {event} is still talked about in every bar of {place}.",
        "{person} reads the news aloud in the {dir} ring galley each evening.",
        "Traders from {place2} say a new route to the outer moons is opening.",
        "A strike of the {role}s of {place} ended after {days} days.",
    ],
}

TITLES = {
    "prices": "Prices at {}", "reactor": "The reactor of {}", "stores": "The stores of {}",
    "security": "Security on {}", "watches": "The guards of {}", "smuggling": "Smuggling at {}",
    "people": "People of {}", "history": "A history of {}", "market": "The market of {}",
    "frames": "Mechs seen at {}", "shifts": "Hangar work at {}", "moons": "The sky of {}",
    "ships": "Ships calling at {}", "faith": "Faith on {}", "politics": "The council of {}",
    "music": "Music on {}", "sports": "Sport on {}", "families": "Families of {}",
    "gardens": "The gardens of {}", "medicine": "The clinic of {}", "news": "News from {}",
}
