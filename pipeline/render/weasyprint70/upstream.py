"""Whether the WeasyPrint code a workaround was written against is the code installed.

`glyph_runs`, `kept_layouts` and `target_counters` replace or rely on WeasyPrint 70.0 functions
they were read against. Each keeps the sha256 of those functions' source text and installs
itself only if every one still matches, so a WeasyPrint upgrade turns them off (and the tests
that require them fail) instead of leaving them to work on code they were not written for.
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable, Mapping
from typing import Any


def source_digest(function: Callable[..., Any]) -> str | None:
    """sha256 of `function`'s source text; None where Python cannot read it."""
    try:
        source = inspect.getsource(function)
    except (OSError, TypeError):
        return None
    return hashlib.sha256(source.encode()).hexdigest()


def unchanged(functions: Mapping[str, Callable[..., Any]], digests: Mapping[str, str]) -> bool:
    """True if every named function has the source text its digest was taken from."""
    return functions.keys() == digests.keys() and all(
        source_digest(function) == digests[name] for name, function in functions.items()
    )
