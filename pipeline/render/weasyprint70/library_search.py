"""WeasyPrint's import looks its shared libraries up in the linker cache only.

WeasyPrint 70 (`weasyprint.text.ffi`) opens Pango, HarfBuzz, fontconfig and GObject by trying
several names per library, for every platform, and cffi looks each name that is not a file up
with `ctypes.util.find_library`. On Linux that reads `ldconfig -p` and, for a name not there,
runs gcc and then ld as well: about 10 ms per name not found, 15 such names (more without
libharfbuzz-vector), 0.21 s of the 0.59 s `import weasyprint` took here. Every build pays it
once, in the process that renders; a one-profile build takes about 1.5 s in all.

`linker_cache_only()` makes `find_library` the first of those searches alone (CPython's
`_findSoname_ldconfig`, about 2 ms) while WeasyPrint is imported. A name the linker cache does not
list is a miss, as it is now for the names of other platforms, and WeasyPrint goes on to its next
name. The last of each list is the library's soname (`libpango-1.0.so.0`), which cffi opens
directly wherever the dynamic loader finds it, LD_LIBRARY_PATH included, so a library outside
the cache is still found. Where CPython has no such function (not Linux), nothing changes.
"""

from __future__ import annotations

import contextlib
import ctypes.util
import sys
from collections.abc import Callable, Iterator


def _linker_cache_search() -> Callable[[str], str | None] | None:
    if not sys.platform.startswith("linux"):
        return None
    search = getattr(ctypes.util, "_findSoname_ldconfig", None)
    return search if callable(search) else None


@contextlib.contextmanager
def linker_cache_only() -> Iterator[None]:
    """`ctypes.util.find_library` searches the linker cache only, inside this block."""
    search = _linker_cache_search()
    if search is None:
        yield
        return
    find_library = ctypes.util.find_library
    setattr(ctypes.util, "find_library", search)  # noqa: B010 (typeshed types it as a def)
    try:
        yield
    finally:
        ctypes.util.find_library = find_library


# Importing this module is the first import of WeasyPrint (pipeline/render/to_pdf.py imports it
# before WeasyPrint for that), with its libraries looked up as above.
with linker_cache_only():
    import weasyprint  # noqa: F401
