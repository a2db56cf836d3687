"""Lore retrieval: parsing, chunking, hybrid search, tag scoping, the on-disk cache, threads."""

from __future__ import annotations

import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bridge.errors import ConfigError, DesignerError
from npc.bench.lore_synth import distractor_chunks
from npc.bench.rag import QUESTIONS, answers, load_questions, run_rag_bench, table
from npc.rag.dense import Embedder, default_embedder
from npc.rag.index import LoreIndex
from npc.rag.lore import MAX_WORDS, MIN_WORDS, chunk_doc, load_lore, parse_lore
from sample_game import HERE

LORE = HERE / "lore"
GAME_TAGS = {"common", "hangar", "reactor", "mechs", "supplies", "security", "smuggling"}
GUARD = ["common", "security"]
SMUGGLER = ["common", "smuggling"]


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return default_embedder()


@pytest.fixture(scope="session")
def index(embedder: Embedder) -> LoreIndex:
    return LoreIndex.build(load_lore(LORE), None, embedder)


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


GOOD = """---
title: The north hangar reactor
tags: [hangar, reactor]
---
# The north hangar reactor

The Old Lantern puts out forty megawatts.
"""


def test_parses_front_matter_and_body(tmp_path: Path) -> None:
    doc = parse_lore(write(tmp_path, "reactor.md", GOOD))
    assert doc.title == "The north hangar reactor"
    assert doc.tags == frozenset({"hangar", "reactor"})
    assert doc.text.endswith("forty megawatts.")
    assert "---" not in doc.text


@pytest.mark.parametrize(
    ("text", "line", "says"),
    [
        ("title: x\ntags: [a]\n---\nbody\n", 1, "starts with a '---'"),
        ("---\ntitle: x\ntags: [a]\n", 1, "never closed"),
        ("---\ntitle: x\ntags: [a]\nbody\n", 4, "no closing '---'"),
        ("---\ntitle: x\ntags [a, b]\n---\nbody\n", 3, "expected 'key: value'"),
        ("---\ntitle: x\ntag: [a]\n---\nbody\n", 3, "unknown front matter key"),
        ("---\ntitle: x\ntags: a, b\n---\nbody\n", 3, "must be a list"),
        ("---\ntitle: x\ntags: []\n---\nbody\n", 3, "tags is empty"),
        ("---\ntitle: x\ntags: [Bad Tag]\n---\nbody\n", 3, "bad tag"),
        ("---\ntags: [a]\n---\nbody\n", 3, "no 'title'"),
        ("---\ntitle: x\ntitle: y\ntags: [a]\n---\nbody\n", 3, "given twice"),
        ("---\ntitle: x\ntags: [a]\n---\n\n", 4, "no text"),
    ],
)
def test_broken_lore_names_file_and_line(tmp_path: Path, text: str, line: int, says: str) -> None:
    path = write(tmp_path, "broken.md", text)
    with pytest.raises(DesignerError) as caught:
        parse_lore(path)
    assert caught.value.line == line
    assert says in caught.value.why
    assert str(caught.value).startswith(f"{path}:{line}: ")


def test_load_lore_stops_at_the_broken_file(tmp_path: Path) -> None:
    write(tmp_path, "a.md", GOOD)
    write(tmp_path, "b.md", "---\ntitle: b\n---\nbody\n")
    with pytest.raises(DesignerError, match=r"b\.md:3: front matter has no 'tags'"):
        load_lore(tmp_path)
    with pytest.raises(ConfigError):
        load_lore(tmp_path / "missing")


def test_sample_lore_covers_the_game_tags() -> None:
    docs = load_lore(LORE)
    assert 12 <= len(docs) <= 20
    used = set().union(*(d.tags for d in docs))
    assert used == GAME_TAGS
    # The guard must not share a tag with the smuggler's secrets.
    secrets = [d for d in docs if "smuggling" in d.tags]
    assert secrets and all(not d.tags & set(GUARD) for d in secrets)


def test_chunks_stay_in_size_and_keep_the_title() -> None:
    chunks = [c for doc in load_lore(LORE) for c in chunk_doc(doc)]
    assert len({c.id for c in chunks}) == len(chunks)
    sizes = [len(c.text.split()) for c in chunks]
    assert max(sizes) <= MAX_WORDS * 1.25
    assert sum(s >= MIN_WORDS for s in sizes) >= 0.75 * len(sizes)
    reactor = [c for c in chunks if c.doc == "north_hangar_reactor"]
    assert len(reactor) >= 2 and all(c.title == "The north hangar reactor" for c in reactor)
    assert all(c.indexed.startswith("The north hangar reactor\n") for c in reactor)


def test_long_paragraph_is_cut_at_sentences(tmp_path: Path) -> None:
    sentence = "The crane lifts the mech frame out of berth four every single morning. "
    doc = parse_lore(write(tmp_path, "long.md", f"---\ntitle: Long\ntags: [common]\n---\n"
                           f"{sentence * 30}\n"))
    chunks = chunk_doc(doc)
    assert len(chunks) >= 3
    assert all(len(c.text.split()) <= MAX_WORDS for c in chunks)
    assert all(c.text.endswith("morning.") for c in chunks)


def test_each_lore_question_finds_its_chunk(index: LoreIndex) -> None:
    questions = load_questions(QUESTIONS)
    assert len(questions) >= 40
    missed = [q.question for q in questions
              if not any(answers(h.chunk, q) for h in index.search(q.question, k=5))]
    assert len(missed) <= 0.05 * len(questions), missed


def test_right_chunk_among_distractors(embedder: Embedder) -> None:
    """With 2,000 chunks of other stations' lore mixed in, most answers stay in the top 5
    (0.82 measured; the benchmark has the figures at 10,000)."""
    real = [c for doc in load_lore(LORE) for c in chunk_doc(doc)]
    index = LoreIndex.from_chunks(real + distractor_chunks(2000), None, embedder)
    questions = load_questions(QUESTIONS)
    found = sum(any(answers(h.chunk, q) for h in index.search(q.question)) for q in questions)
    assert found / len(questions) >= 0.75
    hits = index.search("Brakka, how much for a new actuator?", k=3)
    assert any(h.chunk.doc == "mech_parts_prices" and "450 credits" in h.chunk.text
               for h in hits)


def test_guard_never_retrieves_smuggling_secrets(index: LoreIndex) -> None:
    for question in ["What's the password for the duct?", "How do you sneak goods past the "
                     "scanners?", "Who buys stolen goods?", "Tell me about Vex and the smugglers"]:
        hits = index.search(question, tags=GUARD, k=10)
        assert hits and all("smuggling" not in h.chunk.tags for h in hits)
        assert all(h.chunk.tags & set(GUARD) for h in hits)
    top = index.search("What's the password for the duct?", tags=SMUGGLER)[0].chunk
    assert "salt and ember" in top.text
    assert index.search("the password", tags=["no-such-tag"]) == []


def test_scores_are_ordered_and_k_is_respected(index: LoreIndex) -> None:
    hits = index.search("Tell me about the reactor in the north hangar.", k=3)
    assert len(hits) == 3 and "north_hangar_reactor" in {h.chunk.doc for h in hits}
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert index.search("anything", k=0) == []
    assert len(index.search("the of and", k=5)) <= 5  # only stopwords: no crash


def test_terms_are_proper_names_in_scope(index: LoreIndex) -> None:
    terms = index.terms()
    assert 10 <= len(terms) <= 50
    for name in ["Brakka", "Halcyon", "Stork", "Old Lantern", "Mother Quill"]:
        assert name in terms
    assert "The" not in terms
    guard = index.terms(GUARD)
    assert "Mother Quill" not in guard and "Okoro" in " ".join(guard)


def test_cache_hit_after_rebuild_and_miss_after_edit(tmp_path: Path, embedder: Embedder) -> None:
    lore = tmp_path / "lore"
    shutil.copytree(LORE, lore)
    cache = tmp_path / "cache"
    first = LoreIndex.build(load_lore(lore), cache, embedder)
    assert not first.from_cache and len(list(cache.glob("*.npz"))) == 1
    again = LoreIndex.build(load_lore(lore), cache, embedder)
    assert again.from_cache
    query = "How much is a cooling pump?"
    assert [h.chunk.id for h in again.search(query)] == [h.chunk.id for h in first.search(query)]
    assert again.search(query)[0].score == pytest.approx(first.search(query)[0].score)
    path = lore / "supplies_catalogue.md"
    path.write_text(path.read_text(encoding="utf-8").replace("260 credits", "275 credits"),
                    encoding="utf-8")
    edited = LoreIndex.build(load_lore(lore), cache, embedder)
    assert not edited.from_cache
    assert any("275 credits" in h.chunk.text for h in edited.search(query))
    (cache / "junk").mkdir()  # a cache folder with other things in it still works
    assert LoreIndex.build(load_lore(lore), cache, embedder).from_cache


def test_corrupt_cache_is_rebuilt(tmp_path: Path, embedder: Embedder) -> None:
    docs = load_lore(LORE)
    LoreIndex.build(docs, tmp_path, embedder)
    (cached,) = tmp_path.glob("*.npz")
    whole = cached.read_bytes()
    for broken in (b"not a numpy archive", whole[: len(whole) // 2]):
        cached.write_bytes(broken)
        index = LoreIndex.build(docs, tmp_path, embedder)
        assert not index.from_cache
        assert index.search("Who is Sergeant Okoro?")[0].chunk.doc == "okoro"
        assert LoreIndex.build(docs, tmp_path, embedder).from_cache


def test_concurrent_searches_agree_with_serial(index: LoreIndex) -> None:
    questions = [q.question for q in load_questions(QUESTIONS)]
    scopes = [None, GUARD, SMUGGLER, ["common", "hangar", "mechs"]]
    work = [(q, s) for q in questions for s in scopes]
    serial = [[h.chunk.id for h in index.search(q, tags=s)] for q, s in work]
    with ThreadPoolExecutor(max_workers=8) as pool:
        parallel = list(pool.map(lambda w: [h.chunk.id for h in index.search(w[0], tags=w[1])],
                                 work * 3))
    assert parallel == serial * 3


def test_questions_file_is_well_formed() -> None:
    raw = json.loads(QUESTIONS.read_text(encoding="utf-8"))
    stems = {p.stem for p in LORE.glob("*.md")}
    assert all(set(q) == {"question", "doc", "answer_contains"} for q in raw)
    assert all(q["doc"] in stems for q in raw)
    assert len({q["question"] for q in raw}) == len(raw)


def test_bench_runs_end_to_end_small() -> None:
    result = run_rag_bench(chunks=300, repeats=1)
    assert result["chunks"] == 300
    modes = [r["mode"] for r in result["runs"]]
    assert modes[0].startswith("bm25s stock") and {"bm25", "dense", "hybrid"} <= set(modes)
    for run in result["runs"]:
        assert 0.0 <= run["recall_at_5"] <= 1.0 and 0 < run["p50_ms"] <= run["p95_ms"]
    hybrid = next(r for r in result["runs"] if r["mode"] == "hybrid")
    assert hybrid["recall_at_5"] >= 0.8 and hybrid["cached_build_s"] < hybrid["build_s"]
    assert "| hybrid |" in table(result)
