"""Reading one YAML canon file safely, keeping the line of every node.

Canon files are untrusted: we refuse anchors and aliases (alias bombs), explicit tags
(`!!python/object`), deep nesting, huge files and invalid UTF-8 *before* building a node tree,
and we report duplicate keys, which PyYAML silently accepts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


_PARSER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_RESOLVER = yaml.resolver.Resolver()
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"


def parse_source(source: Source, problems: Collector) -> yaml.Node | None:
    """Compose the single YAML document of `source` into a node tree, or report why not.

    One pass over libyaml's events (PyYAML's pure-Python parser when libyaml is absent): hostile
    constructs are refused as they are met, before anything is expanded, and the node tree is
    built here instead of parsing the text a second time with `yaml.compose`.
    """
    stack: list[yaml.CollectionNode] = []
    #: Per open mapping: the key node waiting for its value.
    pending: list[yaml.Node | None] = []
    root: yaml.Node | None = None
    documents = 0
    try:
        for event in yaml.parse(source.text, Loader=_PARSER):
            start: Any = event.start_mark  # libyaml's Mark or PyYAML's: both have .line
            end: Any = event.end_mark
            line = int(getattr(start, "line", 0)) + 1
            refusal = _refusal(event)
            if refusal is not None:
                problems.error(source.path, line, *refusal)
                return None
            if isinstance(event, yaml.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    problems.error(
                        source.path,
                        line,
                        "malformed YAML: a canon file holds one document; remove the '---'",
                        "yaml",
                    )
                    return None
                continue
            node: yaml.Node
            if isinstance(event, yaml.ScalarEvent):
                tag = _RESOLVER.resolve(yaml.ScalarNode, event.value, event.implicit)  # type: ignore[no-untyped-call]
                node = yaml.ScalarNode(tag, event.value, start, end, event.style)
            elif isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
                if len(stack) >= MAX_DEPTH:
                    problems.error(
                        source.path,
                        line,
                        f"nesting deeper than {MAX_DEPTH} levels; canon files are shallow",
                        "yaml-depth",
                    )
                    return None
                node = (
                    yaml.MappingNode(_MAP_TAG, [], start, end)
                    if isinstance(event, yaml.MappingStartEvent)
                    else yaml.SequenceNode(_SEQ_TAG, [], start, end)
                )
            elif isinstance(event, yaml.CollectionEndEvent):
                stack.pop()
                pending.pop()
                continue
            else:
                continue
            if not stack:
                root = node
            elif isinstance(stack[-1], yaml.MappingNode):
                key = pending[-1]
                if key is None:
                    pending[-1] = node
                else:
                    stack[-1].value.append((key, node))
                    pending[-1] = None
            else:
                stack[-1].value.append(node)
            if isinstance(node, yaml.CollectionNode):
                stack.append(node)
                pending.append(None)
    except yaml.reader.ReaderError as exc:  # a character YAML refuses anywhere in the file
        problems.error(source.path, *_reader_problem(source.text, exc), "yaml")
        return None
    except yaml.YAMLError as exc:
        problems.error(source.path, _mark_line(exc), _describe(exc), "yaml")
        return None
    if root is None:
        problems.error(
            source.path, 1, "file is empty; expected a mapping with 'canon: 1'", "schema"
        )
    return root


def _refusal(event: yaml.Event) -> tuple[str, str] | None:
    """(message, code) when an event is a construct canon files refuse."""
    if isinstance(event, yaml.AliasEvent):
        return (
            f"YAML alias '*{event.anchor}' is not allowed in canon files; write the value out",
            "yaml-alias",
        )
    anchor = getattr(event, "anchor", None)
    if anchor is not None:
        return f"YAML anchor '&{anchor}' is not allowed in canon files", "yaml-anchor"
    tag = getattr(event, "tag", None)
    if tag is not None and not isinstance(event, yaml.DocumentStartEvent):
        return f"YAML tag '{tag}' is not allowed in canon files; use plain values", "yaml-tag"
    return None
