"""Which profiles a build takes, how many workers, and the build time the user fixed."""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Mapping, Sequence

from pipeline.diagnostics import PacksError
from pipeline.model import Canon, Profile


def select(canon: Canon, patterns: Sequence[str]) -> tuple[Profile, ...]:
    """Profiles whose id matches any pattern (`CLINIC.*`, `*.M4`), canon order; all when none.

    A pattern that matches nothing is an error even when others match: a typo must not silently
    shrink a selection.
    """
    if not patterns:
        return canon.profiles
    unmatched = [
        pat for pat in patterns if not any(fnmatch.fnmatchcase(p.id, pat) for p in canon.profiles)
    ]
    if unmatched:
        raise PacksError(f"no profile matches {' '.join(unmatched)} (try `packs list`)")
    return tuple(
        p for p in canon.profiles if any(fnmatch.fnmatchcase(p.id, pat) for pat in patterns)
    )


def default_jobs() -> int:
    """The cores this process may run on (cgroup/affinity aware where the OS says)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def source_date_epoch(environ: Mapping[str, str] | None = None) -> int | None:
    """SOURCE_DATE_EPOCH as an int, or None when unset; a malformed value is an input error."""
    raw = (os.environ if environ is None else environ).get("SOURCE_DATE_EPOCH")
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise PacksError(
            f"SOURCE_DATE_EPOCH={raw!r} is not a whole number of seconds since 1970"
        ) from None
    if value < 0:
        raise PacksError(f"SOURCE_DATE_EPOCH={raw!r} must not be negative")
    return value
