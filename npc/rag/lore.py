"""Lore files: Markdown with a `title`/`tags` front matter, parsed and cut into chunks."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bridge.errors import ConfigError, DesignerError

FENCE = "---"
MIN_WORDS = 40  # a chunk shorter than this takes in the next paragraph
MAX_WORDS = 120  # a chunk stops growing here; longer paragraphs are cut at sentences
_TAG = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True, slots=True)
class LoreDoc:
    """One lore file: who knows it (tags) and what it says (Markdown body)."""

    path: Path
    title: str
    tags: frozenset[str]
    text: str


@dataclass(frozen=True, slots=True)
class Chunk:
    """A passage of one lore file, small enough to quote to the LLM (40-120 words)."""

    id: str  # "<doc>#<n>", n counting from 0 within the file
    doc: str  # the lore file's stem
    title: str  # the file's title, kept for context
    text: str  # the passage; section headings as plain lines
    tags: frozenset[str]

    @property
    def indexed(self) -> str:
        """What retrieval reads: the title, then the passage."""
        return f"{self.title}\n{self.text}"


def _value(path: Path, line: int, raw: str) -> str:
    value = raw.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1].strip()
    if not value:
        raise DesignerError(path, line, "empty value")
    return value


def _tags(path: Path, line: int, raw: str) -> frozenset[str]:
    value = raw.strip()
    if not (value.startswith("[") and value.endswith("]")):
        raise DesignerError(path, line, f"tags must be a list like [common, hangar], got {value!r}")
    tags = [t.strip().strip("\"'") for t in value[1:-1].split(",") if t.strip()]
    if not tags:
        raise DesignerError(path, line, "tags is empty: name who knows this, e.g. [common]")
    for tag in tags:
        if not _TAG.match(tag):
            raise DesignerError(path, line, f"bad tag {tag!r}: lower-case letters, digits, - and _")
    return frozenset(tags)


def parse_lore_text(path: Path, source: str) -> LoreDoc:
    """Parse the text of one lore file; a broken one raises DesignerError at its line."""
    lines = source.splitlines()
    if not lines or lines[0].strip() != FENCE:
        raise DesignerError(path, 1, "a lore file starts with a '---' front matter line")
    fields: dict[str, tuple[int, str]] = {}
    end = None
    for number, line in enumerate(lines[1:], start=2):
        if line.strip() == FENCE:
            end = number
            break
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, colon, raw = line.partition(":")
        key = key.strip()
        if not colon or not key:
            raise DesignerError(
                path, number, f"expected 'key: value', got {line.strip()!r} (no closing '---'?)"
            )
        if key not in ("title", "tags"):
            raise DesignerError(
                path, number, f"unknown front matter key {key!r}: title, tags (no closing '---'?)"
            )
        if key in fields:
            first = fields[key][0]
            raise DesignerError(path, number, f"{key!r} given twice (first on line {first})")
        fields[key] = (number, raw)
    if end is None:
        raise DesignerError(path, 1, "front matter is never closed with a '---' line")
    for key in ("title", "tags"):
        if key not in fields:
            raise DesignerError(path, end, f"front matter has no {key!r}")
    title = _value(path, fields["title"][0], fields["title"][1])
    tags = _tags(path, *fields["tags"])
    body = "\n".join(lines[end:]).strip()
    if not body:
        raise DesignerError(path, end, "no text after the front matter")
    return LoreDoc(path=path, title=title, tags=tags, text=body)


def parse_lore(path: Path) -> LoreDoc:
    """Read and parse one lore file."""
    try:
        source = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise DesignerError(path, None, f"not UTF-8 text: {e}") from e
    except OSError as e:
        raise DesignerError(path, None, f"cannot read: {e}") from e
    return parse_lore_text(path, source)


def load_lore(folder: Path) -> list[LoreDoc]:
    """Every `*.md` file in `folder`, by name; the first broken one raises DesignerError."""
    if not folder.is_dir():
        raise ConfigError(f"no lore folder {folder}")
    return [parse_lore(p) for p in sorted(folder.glob("*.md"))]


def _units(doc: LoreDoc) -> Iterator[tuple[str, str]]:
    """(section heading, paragraph) pairs; paragraphs over MAX_WORDS cut at sentences."""
    heading = ""
    for block in re.split(r"\n\s*\n", doc.text):
        text = " ".join(block.split())
        if not text:
            continue
        if text.startswith("#"):
            heading = text.lstrip("#").strip()
            if heading.lower() == doc.title.lower():
                heading = ""
            continue
        if len(text.split()) <= MAX_WORDS:
            yield heading, text
            continue
        part: list[str] = []
        for sentence in _SENTENCE.split(text):
            if part and len(" ".join([*part, sentence]).split()) > MAX_WORDS:
                yield heading, " ".join(part)
                part = []
            part.append(sentence)
        if part:
            yield heading, " ".join(part)


def chunk_doc(doc: LoreDoc) -> list[Chunk]:
    """Cut a file into passages of about MIN_WORDS..MAX_WORDS words, in reading order.

    Paragraphs stay whole where they fit; a section's heading is written once, above
    its first paragraph in the chunk, so a chunk reads on its own.
    """
    groups: list[list[tuple[str, str]]] = []
    words = 0
    for heading, para in _units(doc):
        n = len(para.split())
        if groups and (words + n <= MAX_WORDS or words < MIN_WORDS):
            groups[-1].append((heading, para))
            words += n
        else:
            groups.append([(heading, para)])
            words = n
    chunks = []
    for i, group in enumerate(groups):
        lines: list[str] = []
        last = ""
        for heading, para in group:
            if heading and heading != last:
                lines.append(heading)
            last = heading
            lines.append(para)
        chunks.append(
            Chunk(
                id=f"{doc.path.stem}#{i}",
                doc=doc.path.stem,
                title=doc.title,
                text="\n".join(lines),
                tags=doc.tags,
            )
        )
    return chunks


def chunk_docs(docs: list[LoreDoc]) -> list[Chunk]:
    """Every file's chunks, file by file."""
    return [c for doc in docs for c in chunk_doc(doc)]
