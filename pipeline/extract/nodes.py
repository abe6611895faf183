"""Typed reads of YAML nodes with located problems: the canon schema's building blocks.

Each reader returns the value or None and records a `path:line: message` for anything wrong, so
validation of a whole file continues past the first problem.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import yaml

from pipeline.diagnostics import Collector, quoted

#: Longest canon text accepted (design.md §7).
MAX_TEXT_CHARS = 20_000
CODE_RE = re.compile(r"[A-Z][A-Z0-9]*\Z")
#: Names Windows reserves for devices, with or without an extension: never a safe file name.
RESERVED_NAMES = frozenset(
    ["CON", "PRN", "AUX", "NUL"]
    + [f"COM{i}" for i in range(1, 10)]
    + [f"LPT{i}" for i in range(1, 10)]
)
#: Characters XML 1.0 cannot carry (plus surrogates and non-characters YAML escapes can produce).
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

_TAG_NAMES = {
    "tag:yaml.org,2002:str": "text",
    "tag:yaml.org,2002:int": "a whole number",
    "tag:yaml.org,2002:float": "a number",
    "tag:yaml.org,2002:bool": "a true/false value",
    "tag:yaml.org,2002:null": "an empty value",
    "tag:yaml.org,2002:timestamp": "a date",
}


def describe(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    return _TAG_NAMES.get(node.tag, "a value")


def line_of(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def text_problem(value: str) -> str | None:
    """Why `value` is not acceptable canon text, or None."""
    if not value.strip():
        return "text is empty or only white space"
    if len(value) > MAX_TEXT_CHARS:
        return f"text is {len(value):,} characters; the limit is {MAX_TEXT_CHARS:,}"
    bad = _XML_INVALID.search(value)
    if bad:
        return (
            f"text contains the control character U+{ord(bad.group()):04X} at position "
            f"{bad.start() + 1}, which no document format can carry"
        )
    return None


class Reader:
    """Reads nodes of one file, recording problems against that file's path."""

    def __init__(self, path: str, problems: Collector) -> None:
        self.path = path
        self.problems = problems

    def error(self, node: yaml.Node | int, message: str, code: str = "schema") -> None:
        line = node if isinstance(node, int) else line_of(node)
        self.problems.error(self.path, line, message, code)

    def mapping(
        self,
        node: yaml.Node,
        where: str,
        required: tuple[str, ...] = (),
        optional: tuple[str, ...] = (),
        open_keys: bool = False,
    ) -> dict[str, yaml.Node] | None:
        """A mapping with known keys. Unknown and duplicate keys are reported, not dropped."""
        if not isinstance(node, yaml.MappingNode):
            self.error(node, f"{where}: expected a mapping, got {describe(node)}")
            return None
        out: dict[str, yaml.Node] = {}
        key_lines: dict[str, int] = {}
        allowed = set(required) | set(optional)
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                self.error(key_node, f"{where}: keys must be plain names, got {describe(key_node)}")
                continue
            key = str(key_node.value)
            if key in out:
                self.error(
                    key_node,
                    f"{where}: duplicate key '{key}' (first at line {key_lines[key]})",
                    "duplicate-key",
                )
                continue
            key_lines[key] = line_of(key_node)
            if not open_keys and key not in allowed:
                expected = ", ".join(sorted(allowed)) or "no keys"
                self.error(
                    key_node,
                    f"{where}: unknown key '{key}' (expected one of: {expected})",
                    "unknown-key",
                )
                continue
            out[key] = value_node
        for key in required:
            if key not in out and not any(
                isinstance(k, yaml.ScalarNode) and k.value == key for k, _ in node.value
            ):
                self.error(node, f"{where}: missing required key '{key}'", "missing-key")
        return out

    def items(self, node: yaml.Node, where: str) -> Iterator[tuple[str, yaml.Node, yaml.Node]]:
        """Key/value pairs of an open mapping (keys checked by the caller), duplicates reported."""
        if not isinstance(node, yaml.MappingNode):
            self.error(node, f"{where}: expected a mapping, got {describe(node)}")
            return
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                self.error(key_node, f"{where}: keys must be plain names, got {describe(key_node)}")
                continue
            key = str(key_node.value)
            if key in seen:
                self.error(
                    key_node,
                    f"{where}: duplicate key '{key}' (first at line {seen[key]})",
                    "duplicate-key",
                )
                continue
            seen[key] = line_of(key_node)
            yield key, key_node, value_node

    def text(self, node: yaml.Node | None, where: str) -> str | None:
        if node is None:
            return None
        if not isinstance(node, yaml.ScalarNode) or node.tag != "tag:yaml.org,2002:str":
            hint = ""
            if isinstance(node, yaml.ScalarNode) and node.value:
                hint = f' (put it in quotes: "{node.value}")'
            self.error(node, f"{where}: expected text, got {describe(node)}{hint}")
            return None
        value = str(node.value)
        problem = text_problem(value)
        if problem:
            self.error(node, f"{where}: {problem}", "text")
            return None
        return value

    def texts(
        self, node: yaml.Node, where: str, keys: tuple[str, ...]
    ) -> tuple[tuple[str, str], ...]:
        """(key, text) of a mapping of optional text fields, in the order of `keys` (not the
        file's); an invalid text is reported and left out."""
        m = self.mapping(node, where, optional=keys)
        out: list[tuple[str, str]] = []
        for key in keys:
            if m is not None and key in m:
                text = self.text(m[key], f"{where}.{key}")
                if text is not None:
                    out.append((key, text))
        return tuple(out)

    def text_list(self, node: yaml.Node | None, where: str) -> tuple[str, ...]:
        if node is None:
            return ()
        if isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null":
            return ()
        if not isinstance(node, yaml.SequenceNode):
            self.error(node, f"{where}: expected a list of texts, got {describe(node)}")
            return ()
        out: list[str] = []
        for i, child in enumerate(node.value, 1):
            value = self.text(child, f"{where}[{i}]")
            if value is not None:
                out.append(value)
        return tuple(out)

    def code(self, node: yaml.Node | None, where: str) -> str | None:
        if node is None:
            return None
        if not isinstance(node, yaml.ScalarNode) or node.tag != "tag:yaml.org,2002:str":
            self.error(node, f"{where}: expected a code like 'CLINIC', got {describe(node)}")
            return None
        value = str(node.value)
        if not CODE_RE.match(value):
            self.error(
                node,
                f"{where}: {quoted(value, 40)} is not a valid code (upper-case letters and digits, "
                "starting with a letter, e.g. 'CLINIC')",
                "unsafe-id",
            )
            return None
        if value in RESERVED_NAMES:
            self.error(
                node,
                f"{where}: '{value}' is a reserved device name on Windows and cannot start a "
                "file name; choose another code",
                "unsafe-id",
            )
            return None
        return value

    def integer(self, node: yaml.Node | None, where: str) -> int | None:
        if node is None:
            return None
        if not isinstance(node, yaml.ScalarNode) or node.tag != "tag:yaml.org,2002:int":
            self.error(node, f"{where}: expected a whole number, got {describe(node)}")
            return None
        return int(yaml.safe_load(node.value))

    def number(self, node: yaml.Node | None, where: str) -> float | None:
        if node is None:
            return None
        if not isinstance(node, yaml.ScalarNode) or node.tag not in (
            "tag:yaml.org,2002:int",
            "tag:yaml.org,2002:float",
        ):
            self.error(node, f"{where}: expected a number, got {describe(node)}")
            return None
        return float(yaml.safe_load(node.value))
