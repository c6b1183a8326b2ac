"""Find the line of a dotted key in a hand-written TOML file.

``tomllib`` does not report where a value came from, so errors about a value would otherwise
name only the file. This scanner follows table headers and ``key =`` lines; it is exact for the
way people write config files (one key per line, tables by header) and falls back to the nearest
enclosing table for anything cleverer (inline tables, multi-line values).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_PART = r"""(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')"""
_DOTTED = rf"{_PART}(?:\s*\.\s*{_PART})*"
_HEADER = re.compile(rf"^\s*\[\[?\s*({_DOTTED})\s*\]\]?\s*(?:#.*)?$")
_ASSIGN = re.compile(rf"^\s*({_DOTTED})\s*=")
_PARTS = re.compile(_PART)


def _split(dotted: str) -> tuple[str, ...]:
    return tuple(part.strip("\"'") for part in _PARTS.findall(dotted))


def _index(text: str) -> tuple[dict[tuple[str, ...], int], list[tuple[str, ...]]]:
    """Every key path and table seen → its first line (1-based); and each line's key path."""
    found: dict[tuple[str, ...], int] = {}
    per_line: list[tuple[str, ...]] = []
    table: tuple[str, ...] = ()
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header:
            table = _split(header.group(1))
            for depth in range(1, len(table) + 1):
                found.setdefault(table[:depth], number)
            per_line.append(table)
            continue
        assign = _ASSIGN.match(line)
        if assign:
            path = table + _split(assign.group(1))
            for depth in range(len(table) + 1, len(path) + 1):
                found.setdefault(path[:depth], number)
            per_line.append(path)
        else:
            per_line.append(table)
    return found, per_line


def line_of(text: str, key: Sequence[str | int]) -> int | None:
    """The line setting ``key`` (e.g. ``("store", "access_token")``), else its nearest table's."""
    found, _ = _index(text)
    path = tuple(str(part) for part in key)
    for depth in range(len(path), 0, -1):
        if path[:depth] in found:
            return found[path[:depth]]
    return None


def key_at(text: str, line: int) -> str | None:
    """The dotted key set on ``line`` (or the table it belongs to), for syntax errors."""
    _, per_line = _index(text)
    if 1 <= line <= len(per_line) and per_line[line - 1]:
        return ".".join(per_line[line - 1])
    return None
