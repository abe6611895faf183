"""Reading one YAML canon file safely, keeping the line of every node.

Canon files are untrusted: we refuse anchors and aliases (alias bombs), explicit tags
(`!!python/object`), deep nesting, huge files and invalid UTF-8 *before* building a node tree,
and we report duplicate keys, which PyYAML silently accepts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from pipeline.diagnostics import Collector

#: Larger canon files are refused before parsing (a focus file is a few kB).
MAX_FILE_BYTES = 2 * 1024 * 1024
#: Canon nests at most four levels; anything much deeper is hostile or a mistake.
MAX_DEPTH = 16


@dataclass(frozen=True)
class Source:
    """A canon file as read: its display path and its text (BOM removed)."""

    path: str
    text: str


def read_source(path: Path, display: str, problems: Collector) -> Source | None:
    """Read and decode a file, reporting size and encoding problems with their line."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            problems.error(
                display,
                1,
                f"file is {size:,} bytes; canon files are limited to {MAX_FILE_BYTES:,} bytes",
                "size",
            )
            return None
        data = path.read_bytes()
    except OSError as exc:
        problems.error(display, 0, f"cannot read file: {exc.strerror or exc}", "io")
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        problems.error(
            display,
            line,
            f"invalid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            "save the file as UTF-8",
            "encoding",
        )
        return None
    if text.startswith("\ufeff"):
        text = text[1:]
    return Source(display, text)


def _mark_line(exc: yaml.YAMLError) -> int:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = getattr(mark, "line", None)
    return int(line) + 1 if line is not None else 1


def _describe(exc: yaml.YAMLError) -> str:
    problem = getattr(exc, "problem", None)
    context = getattr(exc, "context", None)
    parts = [p for p in (context, problem) if p]
    return "malformed YAML: " + ("; ".join(parts) if parts else str(exc).splitlines()[0])


def _reader_problem(text: str, exc: yaml.reader.ReaderError) -> tuple[int, str]:
    """Line and message for a refused character: PyYAML's error carries an offset, no mark."""
    before = text[: exc.position]
    line = before.count("\n") + 1
    column = exc.position - (before.rfind("\n") + 1) + 1
    char = exc.character if isinstance(exc.character, str) else chr(exc.character)
    return line, (
        f"malformed YAML: control character U+{ord(char):04X} at column {column} is not "
        "allowed in YAML files; remove it"
    )


def parse_source(source: Source, problems: Collector) -> yaml.Node | None:
    """Compose the single YAML document of `source` into a node tree, or report why not."""
    depth = 0
    try:
        for event in yaml.parse(source.text, Loader=yaml.SafeLoader):
            line = int(getattr(event.start_mark, "line", 0)) + 1
            if isinstance(event, yaml.AliasEvent):
                problems.error(
                    source.path,
                    line,
                    f"YAML alias '*{event.anchor}' is not allowed in canon files; "
                    "write the value out",
                    "yaml-alias",
                )
                return None
            anchor = getattr(event, "anchor", None)
            if anchor is not None:
                problems.error(
                    source.path,
                    line,
                    f"YAML anchor '&{anchor}' is not allowed in canon files",
                    "yaml-anchor",
                )
                return None
            tag = getattr(event, "tag", None)
            if tag is not None and not isinstance(event, yaml.DocumentStartEvent):
                problems.error(
                    source.path,
                    line,
                    f"YAML tag '{tag}' is not allowed in canon files; use plain values",
                    "yaml-tag",
                )
                return None
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    problems.error(
                        source.path,
                        line,
                        f"nesting deeper than {MAX_DEPTH} levels; canon files are shallow",
                        "yaml-depth",
                    )
                    return None
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
        node = yaml.compose(source.text, Loader=yaml.SafeLoader)
    except yaml.reader.ReaderError as exc:  # a character YAML refuses anywhere in the file
        problems.error(source.path, *_reader_problem(source.text, exc), "yaml")
        return None
    except yaml.YAMLError as exc:
        problems.error(source.path, _mark_line(exc), _describe(exc), "yaml")
        return None
    if node is None:
        problems.error(
            source.path, 1, "file is empty; expected a mapping with 'canon: 1'", "schema"
        )
    return node
