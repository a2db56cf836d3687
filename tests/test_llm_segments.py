"""Lore segments: kept KV cells spliced into a prompt (npc/llm/segments.py, LlamaCppLlm)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge.errors import ConfigError
from npc.designer.persona import load_npc
from npc.llm.base import ChatMessage, Decoding, LlmRequest, Usage
from npc.llm.llama import LlamaCppLlm
from npc.llm.segments import Piece, Run, SegmentStore, split
from npc.mind import prompt
from npc.steer import instructions

ROOT = Path(__file__).resolve().parents[1]


def chars(text: str, first: bool) -> list[int]:
    return ([0] if first else []) + [ord(c) for c in text]


def test_split_cuts_on_each_segment_in_order_and_gives_their_spans() -> None:
    tokens, spans = split("ab-X-cd-Y-e", ["-X-", "-Y-"], chars)
    assert tokens == [0, *map(ord, "ab-X-cd-Y-e")]
    assert [("".join(chr(t) for t in tokens[a:b])) for a, b in spans] == ["-X-", "-Y-"]


def test_split_stops_at_a_segment_not_found() -> None:
    # "-Y-" comes before "-X-" here: it is looked for after "-X-" only, so neither the
    # missing one nor any after it is cut.
    tokens, spans = split("-Y-ab-X-", ["-X-", "-Y-", "ab"], chars)
    assert len(spans) == 1 and tokens[spans[0][0] : spans[0][1]] == [ord(c) for c in "-X-"]


def test_split_without_segments_is_the_whole_text() -> None:
    assert split("hello", [], chars) == ([0, *map(ord, "hello")], [])


def piece(n: int, size: int) -> Piece:
    return Piece((n, n + 1), 3, bytes([n]) * size)


def test_store_keeps_runs_within_its_budget() -> None:
    store = SegmentStore(limit_bytes=100)
    assert store.add(Run("", ("a",)), [piece(1, 60)])
    assert not store.add(Run("", ("b",)), [piece(2, 60)])  # 120 > 100: not kept
    assert store.get((1, 2)) is not None and store.get((2, 3)) is None
    assert store.bytes == 60
    assert store.add(Run("", ("a",)), [piece(1, 60)]) and store.bytes == 60  # kept once


def test_store_serves_a_head_its_own_pieces_and_others_the_headless_ones() -> None:
    store = SegmentStore(limit_bytes=1000)
    mine = (("system", "You are Brakka."),)
    store.add(Run("", ("a",)), [piece(1, 10)])
    store.add(Run("", ("a",), mine), [piece(1, 20)])
    head = store.head_of((*mine, ("user", "hi")))
    assert head and store.head_of((("system", "You are Vex."), ("user", "hi"))) == ""
    own, plain = store.get((1, 2), head), store.get((1, 2))
    assert own is not None and plain is not None
    assert len(own.state) == 20 and len(plain.state) == 10
    store.add(Run("", ("b",)), [piece(4, 10)])
    found = store.get((4, 5), head)  # none made after the head: the headless one
    assert found is not None and len(found.state) == 10


def test_a_new_head_takes_the_room_of_the_least_recently_used_one() -> None:
    store = SegmentStore(limit_bytes=100)
    a, b, c = ((("system", f"You are {n}."),) for n in ("Brakka", "Vex", "Ilse"))
    assert store.add(Run("", ("x",)), [piece(1, 40)])  # after no head: never given way
    assert store.add(Run("", ("x",), a), [piece(1, 30)])
    assert store.add(Run("", ("x",), b), [piece(1, 30)])
    assert store.head_of((*a, ("user", "hi")))  # a turn of a's: b is now the older
    assert store.add(Run("", ("x",), c), [piece(1, 30)])
    assert set(store.heads.values()) == {a, c} and store.bytes == 100
    assert store.get((1, 2), store.head_of(b)) is not None  # b's turns: the headless piece
    assert Run("", ("x",), b).key not in store.runs
    assert not store.add(Run("", ("y",), c), [piece(4, 70)])  # c's own and the headless
    assert set(store.heads.values()) == {a, c} and store.bytes == 100  # a kept all the same


def test_store_saves_and_loads_for_the_same_model_only(tmp_path: Path) -> None:
    store = SegmentStore(limit_bytes=1000)
    run = Run("lead", ("x", "y"))
    store.add(run, [piece(1, 10), piece(5, 20)])
    path = tmp_path / "kv" / "m.kv"
    store.save(path, "model-a", {})
    loaded = SegmentStore.load(path, "model-a")
    assert loaded == {run.key: [piece(1, 10), piece(5, 20)]}
    assert SegmentStore.load(path, "model-b") == {}  # another model's cells: made again


def test_store_keeps_older_runs_on_disk_within_twice_its_budget(tmp_path: Path) -> None:
    path = tmp_path / "m.kv"
    older = {"old1": [piece(7, 50)], "old2": [piece(8, 200)]}
    store = SegmentStore(limit_bytes=100)
    store.add(Run("", ("a",)), [piece(1, 100)])
    store.save(path, "m", older)
    loaded = SegmentStore.load(path, "m")
    assert set(loaded) == {Run("", ("a",)).key, "old1"}  # old2 would pass 200 bytes


@pytest.mark.parametrize("damage", [b"", b"not ours", b"NPCKV1\n\x05\x00"])
def test_a_damaged_file_is_only_a_miss(tmp_path: Path, damage: bytes) -> None:
    path = tmp_path / "m.kv"
    path.write_bytes(damage)
    assert SegmentStore.load(path, "m") == {}
    good = SegmentStore(limit_bytes=1000)
    good.add(Run("", ("a",)), [piece(1, 10)])
    good.save(path, "m", {})
    path.write_bytes(path.read_bytes()[:-4])  # cut short: its last cells are missing
    assert SegmentStore.load(path, "m") == {}


def test_lore_segments_are_the_lore_as_the_prompt_writes_it() -> None:
    npc = load_npc(ROOT / "sample_game" / "npcs" / "brakka.toml")
    parts = [("The reactor", "It glows.", "It hums."), ("Rules", "No guns.")]
    for summary in ("", "They met before."):
        context = prompt.Context(
            lore=["A fact from a script.", *(f"{t}: {' '.join(s)}" for t, *s in parts)],
            lore_parts=parts, summary=summary,
        )
        style = instructions(dict(npc.steer)) if summary else ()
        text = prompt.player_turn(context, "What glows?", style)
        segments = prompt.lore_segments(context, style)
        assert segments[1:] == ("\n- The reactor:", " It glows.", " It hums.", "\n- Rules:",
                                " No guns.")
        _, spans = split(text, segments, chars)
        assert len(spans) == len(segments)  # every piece found, in order
    runs = prompt.lore_runs([("The reactor", ["It glows.", "It hums."])])
    pieces = {p for r in runs for p in r.pieces}
    assert set(segments) - {"\n- Rules:", " No guns."} <= pieces


# The model cannot know this: only the spliced lore tells it.
SECRET = "The vault's code word is marmalade."
LEAD = "What you know:"
SYSTEM = "You are Brakka, a mechanic. Answer in one short sentence."
RUN = Run(LEAD, ("\n- The vault:", " " + SECRET, " The vault is under the hangar."))


@pytest.fixture(scope="module")
def llm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaCppLlm]:
    try:
        model = LlamaCppLlm(n_ctx=1024, n_threads=2, lore_cache_mb=16)
    except ConfigError as e:
        pytest.skip(f"the embedded model is not available here: {e}")
    model.segments_dir = tmp_path_factory.mktemp("lore-kv")
    yield model
    model.close()


def ask(segments: tuple[str, ...], lore: str = " ".join(RUN.pieces[1:])) -> LlmRequest:
    turn = f"{LEAD}\n- The vault:{lore}\n\nPlayer says: What is the vault's code word?"
    messages = (
        ChatMessage("system", SYSTEM),
        ChatMessage("user", turn),
    )
    return LlmRequest(messages, decoding=Decoding(max_tokens=16, temperature=0.0),
                      segments=segments, usage=Usage())


def test_kept_lore_is_spliced_not_evaluated_and_the_model_reads_it(llm: LlamaCppLlm) -> None:
    before = llm.evaluated
    assert llm.keep_segments([RUN]) == 1
    assert llm.evaluated > before  # made once
    request = ask((LEAD, *RUN.pieces))
    _, _, spans = llm._prompt(request)
    assert len(spans) == 4
    evaluated = {}
    for segments in ((), (LEAD, *RUN.pieces)):
        llm.warm(LlmRequest(request.messages[:1]))  # the context holds the system message
        before = llm.evaluated
        said = "".join(llm.stream(ask(segments), threading.Event()))
        evaluated[bool(segments)] = llm.evaluated - before
        assert "marmalade" in said.lower()  # read from the spliced cells too
    # The three kept pieces were not evaluated (the reply's own length may differ a little).
    assert evaluated[True] <= evaluated[False] - (spans[-1][1] - spans[1][0]) + 3


def test_a_piece_not_kept_is_evaluated(llm: LlamaCppLlm) -> None:
    llm.keep_segments([RUN])
    other = " The vault's code word is lemonade."
    request = ask((LEAD, "\n- The vault:", other), lore=other)
    said = "".join(llm.stream(request, threading.Event()))
    assert "lemonade" in said.lower()  # not the kept sentence in its place


def test_kept_pieces_load_from_disk_at_the_next_start(llm: LlamaCppLlm) -> None:
    llm.keep_segments([RUN])
    llm._segments = SegmentStore(16 << 20)  # as a new process would start
    before = llm.evaluated
    assert llm.keep_segments([RUN]) == 1
    assert llm.evaluated == before  # nothing made again
    changed = Run(LEAD, ("\n- The vault:", " It is empty."))
    assert llm.keep_segments([RUN, changed]) == 2
    assert llm.evaluated > before  # the new run only


def test_runs_after_a_head_evaluate_it_once_and_serve_prompts_that_open_with_it(
    llm: LlamaCppLlm,
) -> None:
    head = (("system", SYSTEM),)
    first = Run(LEAD, ("\n- The vault:", " " + SECRET, " The vault is under the hangar."), head)
    second = Run(LEAD, ("\n- The lift:", " The lift sticks on the second floor."), head)
    assert llm.keep_segments([first]) == 1
    before = llm.evaluated
    assert llm.keep_segments([first, second]) == 2
    pieces = [llm._llama.tokenize(p.encode(), add_bos=False, special=True)
              for p in second.pieces]
    assert llm.evaluated - before == sum(map(len, pieces))  # the head and lead not again
    request = ask((LEAD, *first.pieces))
    name = llm._head(request)
    assert name and llm._segments is not None and llm._segments.heads[name] == head
    tokens, _, spans = llm._prompt(request)
    assert all((name, tuple(tokens[a:b])) in llm._segments.pieces for a, b in spans[1:])
    said = "".join(llm.stream(request, threading.Event()))
    assert "marmalade" in said.lower()
    other = LlmRequest((ChatMessage("system", "You are Vex."), *request.messages[1:]),
                       segments=request.segments)
    assert llm._head(other) == ""  # another persona: pieces made after no head


def test_lore_cache_off_keeps_nothing_and_a_negative_size_is_a_config_error() -> None:
    try:
        off = LlamaCppLlm(n_ctx=256, lore_cache_mb=0)
    except ConfigError as e:
        pytest.skip(f"the embedded model is not available here: {e}")
    try:
        assert not off.capabilities.segments
        assert off.keep_segments([RUN]) == 0
    finally:
        off.close()
    with pytest.raises(ConfigError, match="lore_cache_mb"):
        LlamaCppLlm(n_ctx=256, lore_cache_mb=-1)
