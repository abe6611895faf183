"""Canon YAML text from canon values: the inverse of `yamlsource`, for importers.

Every string is written double-quoted with YAML escapes for anything a plain or folded scalar
would change (line breaks, tabs, control characters, quotes, backslashes, the BOM), so the
loader reads back exactly the text that was written, whatever the page contained. Output is
deterministic: keys in the order given, two-space indentation, empty lists and mappings left out
(the loader reads a missing list as an empty one) unless a mapping is marked `Present`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TypeAlias

#: A canon value: text, a number, a list of texts, or a nested mapping.
Value: TypeAlias = "str | int | float | Sequence[str] | Mapping[str, Value]"

#: Keys: canon names (`decision_rights`), level codes (`M4`) and rubric kinds
#: (`complexity/problem-solving`); never a word YAML 1.1 reads as true/false/null.
_KEY_RE = re.compile(r"[A-Za-z][A-Za-z0-9_/-]*\Z")
_RESOLVED_WORDS = frozenset(["y", "n", "yes", "no", "on", "off", "true", "false", "null"])


class Present(dict[str, "Value"]):
    """A mapping that is written even when empty (`P2: {}`: a profile that states nothing)."""


def _float(value: float) -> str:
    """A float as a YAML 1.1 float scalar that reads back equal (PyYAML needs a '.')."""
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"canon numbers are finite, got {value!r}")
    text = repr(value)
    if "e" in text:
        mantissa, exponent = text.split("e")
        if "." not in mantissa:
            mantissa += ".0"
        if exponent[0] not in "+-":
            exponent = "+" + exponent
        text = f"{mantissa}e{exponent}"
    elif "." not in text:
        text += ".0"
    return text


_NAMED = {
    "\\": "\\\\",
    '"': '\\"',
    "\x00": "\\0",
    "\t": "\\t",
    "\n": "\\n",
    "\r": "\\r",
    "\x85": "\\N",
    "\u2028": "\\L",
    "\u2029": "\\P",
}
#: What must be escaped inside a double-quoted scalar: quotes, backslash, C0/C1 controls and DEL,
#: the Unicode line/paragraph separators, surrogates, the BOM and the two non-characters.
_NEEDS_ESCAPE = re.compile('[\\\\"\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\ufeff\ufffe\uffff]')


def _escape(match: re.Match[str]) -> str:
    ch = match.group()
    named = _NAMED.get(ch)
    if named is not None:
        return named
    code = ord(ch)
    return f"\\x{code:02X}" if code <= 0xFF else f"\\u{code:04X}"


def quote(text: str) -> str:
    """`text` as a YAML double-quoted scalar that reads back identical."""
    return '"' + _NEEDS_ESCAPE.sub(_escape, text) + '"'


def _lines(doc: Mapping[str, Value], indent: int, out: list[str]) -> None:
    pad = " " * indent
    for key, value in doc.items():
        if not _KEY_RE.match(key) or key.lower() in _RESOLVED_WORDS:
            raise ValueError(f"not a canon key: {key!r}")
        if isinstance(value, bool):
            raise TypeError(f"{key}: canon has no true/false values")
        if isinstance(value, str):
            out.append(f"{pad}{key}: {quote(value)}")
        elif isinstance(value, int):
            out.append(f"{pad}{key}: {value}")
        elif isinstance(value, float):
            out.append(f"{pad}{key}: {_float(value)}")
        elif isinstance(value, Mapping):
            nested: list[str] = []
            _lines(value, indent + 2, nested)
            if not nested and isinstance(value, Present):
                out.append(f"{pad}{key}: {{}}")
            elif nested:
                out.append(f"{pad}{key}:")
                out.extend(nested)
        else:
            if value:
                out.append(f"{pad}{key}:")
                out.extend(f"{pad}  - {quote(item)}" for item in value)


def emit(doc: Mapping[str, Value], comment: str = "") -> str:
    """A canon YAML document (UTF-8 text, ending in a newline) with an optional leading comment."""
    out = [f"# {line}".rstrip() for line in comment.splitlines()]
    _lines(doc, 0, out)
    return "\n".join(out) + "\n"
