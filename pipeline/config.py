"""Declared settings files, read once and validated: the mechanism behind `pipeline.layout`.

A settings file's sections are frozen dataclasses whose fields are declared with `setting` (in
the manner of MkDocs' `config/defaults.py`): the field's annotation is its type (text, numbers,
true/false, dates, `Literal` choices, tuples, `Table` mappings, nested sections), its default is
the setting's (none = required), and `check=` refines what the type cannot say (`at_least`,
`positive`, `keys`, `folder_file`). A section may add cross-field checks with a `problems()`
method yielding (key path, what was expected). A setting a section no longer reads is named in its
`RETIRED` class attribute (name -> why): a file that still sets it is refused at that line with
the reason, rather than as an unknown setting. `read_config` reads the file with the canon's
YAML reader (line marks; anchors and tags refused) and reports every problem at once as
`FILE:LINE: error: key: what was expected [layout]`.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import field
from datetime import date
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar

import yaml

from pipeline.diagnostics import Collector, quoted
from pipeline.extract.nodes import describe, line_of
from pipeline.extract.yamlsource import parse_source, read_source

# ---------------------------------------------------------------------------------------------
# Declaring a setting
# ---------------------------------------------------------------------------------------------

V = TypeVar("V")
C = TypeVar("C")


class Table(Mapping[str, V], Generic[V]):
    """A mapping read from the layout: immutable, hashable, in the file's order."""

    __slots__ = ("_items",)

    def __init__(self, items: Iterable[tuple[str, V]] = ()) -> None:
        self._items: dict[str, V] = dict(items)

    def __getitem__(self, key: str) -> V:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(tuple(self._items.items()))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mapping) and dict(self._items) == dict(other)

    def __repr__(self) -> str:
        return f"Table({self._items!r})"


#: A check beyond the type: the value -> what was expected, or None when it is fine.
Check = Callable[[Any], str | None]


def setting(default: Any = dataclasses.MISSING, *, check: Check | None = None) -> Any:
    """A declared setting: without a default it is required; `check` refines its type."""
    meta = {"check": check} if check else {}
    if isinstance(default, list | tuple | dict):
        frozen = _frozen(default)
        return field(default_factory=lambda: frozen, metadata=meta)
    return field(default=default, metadata=meta)


def _frozen(value: Any) -> Any:
    if isinstance(value, dict):
        return Table((k, _frozen(v)) for k, v in value.items())
    if isinstance(value, list | tuple):
        return tuple(_frozen(v) for v in value)
    return value


def at_least(least: int) -> Check:
    def check(value: Any) -> str | None:
        return None if value >= least else f"a whole number of at least {least}"

    return check


def positive(values: Any) -> str | None:
    items = values if isinstance(values, tuple) else (values,)
    return None if all(v > 0 for v in items) else "positive whole numbers"


def keys(required: tuple[str, ...] = (), allowed: tuple[str, ...] | None = None) -> Check:
    """A table that must hold `required` keys and may hold only `allowed` (None: any)."""

    def check(table: Any) -> str | None:
        missing = [k for k in required if k not in table]
        unknown = [k for k in table if allowed is not None and k not in allowed]
        if missing or unknown:
            return f"the keys {', '.join(allowed or required)}" + (
                f" (missing {', '.join(missing)})" if missing else f" (not {', '.join(unknown)})"
            )
        return None

    return check


def folder_file(value: Any) -> str | None:
    """A file of the settings' folder (a marker: `_Reader` checks that it exists inside it)."""
    return None


# ---------------------------------------------------------------------------------------------
# Reading layout.yaml against the declarations
# ---------------------------------------------------------------------------------------------


class _Bad:
    """A value that failed its declaration (its problem is already recorded)."""


_BAD = _Bad()
_SCALARS: dict[type, tuple[str, tuple[str, ...]]] = {
    str: ("text", ("str",)),
    int: ("a whole number", ("int",)),
    float: ("a number", ("int", "float")),
    bool: ("true or false", ("bool",)),
    date: ("a date (YYYY-MM-DD)", ("timestamp",)),
}


def _expected(tp: Any) -> str:
    """What a declared type reads as in a message."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp in _SCALARS:
        return _SCALARS[tp][0]
    if origin is Literal:
        return "one of " + ", ".join(str(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_expected(a) for a in args if a is not type(None))
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return f"a list of {_plural(args[0])}"
        return f"a list of {len(args)} {_plural(args[0])}"
    if origin is Table:
        return f"a mapping of names to {_plural(args[0])}"
    return "a mapping of settings"


def _plural(tp: Any) -> str:
    words = _expected(tp)
    return {
        "text": "texts",
        "a whole number": "whole numbers",
        "a number": "numbers",
        "a mapping of settings": "mappings",
    }.get(words, words)


class _Reader:
    def __init__(self, display: str, root: Path, problems: Collector) -> None:
        self.display = display
        self.root = root
        self.problems = problems
        self._construct = yaml.constructor.SafeConstructor()

    def error(self, node: yaml.Node, key: str, expected: str, found: str | None = None) -> None:
        message = f"{key}: expected {expected}" + (f", found {found}" if found else "")
        self.problems.error(self.display, line_of(node), message, "layout")

    def scalar(self, node: yaml.Node) -> Any:
        return self._construct.construct_object(node, deep=True)

    def shown(self, node: yaml.Node) -> str:
        if isinstance(node, yaml.ScalarNode) and node.value:
            return quoted(node.value) if node.tag.endswith(":str") else node.value
        return describe(node)

    def value(self, tp: Any, node: yaml.Node, key: str) -> Any:
        origin, args = typing.get_origin(tp), typing.get_args(tp)
        if origin in (typing.Union, types.UnionType):
            if type(None) in args and node.tag.endswith(":null"):
                return None
            members = [a for a in args if a is not type(None)]
            if len(members) == 1:
                return self.value(members[0], node, key)
            if all(m in _SCALARS for m in members):
                for member in members:
                    if self._is(member, node):
                        return self.scalar(node)
            self.error(node, key, _expected(tp), self.shown(node))
            return _BAD
        if tp in _SCALARS:
            if self._is(tp, node):
                value = self.scalar(node)
                return float(value) if tp is float else value
        elif origin is Literal:
            if isinstance(node, yaml.ScalarNode) and self.scalar(node) in args:
                return self.scalar(node)
        elif origin is tuple and isinstance(node, yaml.SequenceNode):
            each = args[0]
            fixed = len(args) != 2 or args[1] is not Ellipsis
            if fixed and len(node.value) != len(args):
                self.error(node, key, _expected(tp), f"{len(node.value)} items")
                return _BAD
            items = [self.value(each, n, f"{key}[{i}]") for i, n in enumerate(node.value)]
            return _BAD if any(i is _BAD for i in items) else tuple(items)
        elif origin is Table and isinstance(node, yaml.MappingNode):
            pairs = [(str(self.scalar(k)), v) for k, v in node.value]
            read = [(name, self.value(args[0], v, f"{key}.{name}")) for name, v in pairs]
            if self._duplicates(node, key, [name for name, _ in pairs]):
                return _BAD
            return _BAD if any(v is _BAD for _, v in read) else Table(read)
        elif dataclasses.is_dataclass(tp) and isinstance(node, yaml.MappingNode):
            return self.section(tp, node, key)
        self.error(node, key, _expected(tp), self.shown(node))
        return _BAD

    def _is(self, tp: type, node: yaml.Node) -> bool:
        tags = _SCALARS[tp][1]
        return isinstance(node, yaml.ScalarNode) and node.tag.rsplit(":", 1)[-1] in tags

    def _duplicates(self, node: yaml.MappingNode, key: str, names: list[str]) -> bool:
        first: dict[str, int] = {}
        for (k, _), name in zip(node.value, names, strict=True):
            if name in first:
                message = f"{_joined(key, name)}: duplicate setting (first at line {first[name]})"
                self.problems.error(self.display, line_of(k), message, "layout")
            first.setdefault(name, line_of(k))
        return len(first) != len(names)

    def section(self, cls: Any, node: yaml.MappingNode, key: str) -> Any:
        declared = {f.name: f for f in dataclasses.fields(cls)}
        hints = typing.get_type_hints(cls)
        given: dict[str, yaml.Node] = {}
        names = [
            str(self.scalar(k)) if isinstance(k, yaml.ScalarNode) else "" for k, _ in node.value
        ]
        bad = self._duplicates(node, key, names)
        retired: Mapping[str, str] = getattr(cls, "RETIRED", {})
        for (k, v), name in zip(node.value, names, strict=True):
            if name in retired and name not in declared:
                message = f"{_joined(key, name)}: no longer read ({retired[name]}); delete it"
                self.problems.error(self.display, line_of(k), message, "layout")
                bad = True
            elif name not in declared:
                where = _joined(key, name or describe(k))
                known = ", ".join(sorted(declared))
                message = f"{where}: unknown setting (expected one of: {known})"
                self.problems.error(self.display, line_of(k), message, "layout")
                bad = True
            else:
                given[name] = v
        values: dict[str, Any] = {}
        for name, spec in declared.items():
            where = _joined(key, name)
            if name not in given:
                if (
                    spec.default is dataclasses.MISSING
                    and spec.default_factory is dataclasses.MISSING
                ):
                    message = f"{where}: missing setting (expected {_expected(hints[name])})"
                    self.problems.error(self.display, line_of(node), message, "layout")
                    bad = True
                continue
            value = self.value(hints[name], given[name], where)
            if value is _BAD:
                bad = True
                continue
            check = spec.metadata.get("check")
            wanted = check(value) if check and value is not None else None
            if wanted is None and check is folder_file and value is not None:
                wanted = self._missing_file(value)
            if wanted is not None:
                found = None if check is folder_file else self.shown(given[name])
                self.error(given[name], where, wanted, found)
                bad = True
                continue
            values[name] = value
        if bad:
            return _BAD
        built = cls(**values)
        if hasattr(built, "problems"):
            for sub, wanted in built.problems():
                at = self._node_at(node, sub)
                self.error(at, _joined(key, sub), wanted)
                bad = True
        return _BAD if bad else built

    def _missing_file(self, name: str) -> str | None:
        candidate = (self.root / name).resolve()
        if not candidate.is_relative_to(self.root.resolve()):
            return "a file inside the layout folder"
        if not candidate.is_file():
            return f"a file of the layout folder ({name} is missing)"
        return None

    def _node_at(self, node: yaml.Node, path: str) -> yaml.Node:
        """The node at a dotted key path (`inputs[2].check`), or the deepest one that exists."""
        for part in path.replace("[", ".[").split("."):
            if part.startswith("[") and isinstance(node, yaml.SequenceNode):
                index = int(part[1:-1])
                if index >= len(node.value):
                    break
                node = node.value[index]
            elif isinstance(node, yaml.MappingNode):
                found = [v for k, v in node.value if getattr(k, "value", None) == part]
                if not found:
                    break
                node = found[0]
            else:
                break
        return node


def _joined(key: str, name: str) -> str:
    return f"{key}.{name}" if key else name


def read_config(cls: type[C], settings_file: Path, display: str, root: Path) -> C:
    """Validate a settings file against the dataclass `cls` declares; every problem at once."""
    problems = Collector()
    source = read_source(settings_file, display, problems)
    node = parse_source(source, problems) if source is not None else None
    config: Any = _BAD
    if node is not None:
        reader = _Reader(display, root, problems)
        if isinstance(node, yaml.MappingNode):
            config = reader.section(cls, node, "")
        else:
            problems.error(display, line_of(node), "expected a mapping of settings", "layout")
    problems.raise_if_any(f"{display}: the layout is invalid")
    assert isinstance(config, cls)
    return config
