"""Find where a key sits in TOML text, so a designer error can name the line to fix."""

from __future__ import annotations

import re
import tomllib

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?")
_AT = re.compile(r"\(at line (\d+), column \d+\)")

Key = str | int  # a table key, or an index into an array of tables


def error_line(error: tomllib.TOMLDecodeError, text: str) -> tuple[int | None, str]:
    """(line, message without its location) of a TOML syntax error."""
    message = str(error)
    found = _AT.search(message)
    if found:
        return int(found.group(1)), _AT.sub("", message).strip()
    if "end of document" in message:
        return max(1, text.count("\n") + (0 if text.endswith("\n") else 1)), re.sub(
            r"\s*\(at end of document\)", "", message
        )
    return None, message


def line_of(text: str, *path: Key) -> int | None:
    """The 1-based line of `path` ("steer", "humor"; "examples", 2, "npc"), or the nearest
    enclosing key found, or None."""
    for depth in range(len(path), 0, -1):
        line = _find(text.splitlines(), path[:depth])
        if line is not None:
            return line
    return None


def _find(lines: list[str], path: tuple[Key, ...]) -> int | None:
    names = [p for p in path if isinstance(p, str)]
    index = next((p for p in path if isinstance(p, int)), 0)
    *tables, key = names if isinstance(path[-1], str) else [*names, ""]
    table = ".".join(tables)
    subtable = f"{table}.{key}" if table else key
    section, seen, top_level = "", -1, True
    for n, line in enumerate(lines, 1):
        header = _HEADER.match(line)
        if header:
            section, top_level = header.group(2).replace(" ", "").replace('"', ""), False
            if header.group(1) == "[[" and section == table:
                seen += 1
            if key and section == subtable:
                return n  # `[steer]` for the key "steer"
            if not key and section == table and (seen == index or header.group(1) == "["):
                return n
            continue
        if key and section == table and seen in (index, -1) and _assigns(line, key):
            return n
        if key and top_level and len(tables) == 1 and _assigns(line, tables[0]):
            # An inline table, `steer = { humor = 9 }`, possibly over several lines.
            for m in range(n, min(len(lines), n + 50) + 1):
                if re.search(rf"(^|[{{,\s]){re.escape(key)}\s*=", lines[m - 1]):
                    return m
    return None


def _assigns(line: str, key: str) -> bool:
    """`key = ...`, `"key" = ...` or `key.sub = ...` at the start of the line."""
    quoted = re.escape(key)
    return re.match(rf"^\s*(?:{quoted}|\"{quoted}\"|'{quoted}')\s*[=.]", line) is not None
