"""Build: the only stage that writes. Selection, workers, manifests, atomic writes, skips, zips.

One module per mechanism: `selection` (which profiles, how many jobs, SOURCE_DATE_EPOCH),
`fingerprint` (what a pack depends on; skips), `workers` (render and commit one pack; the pool),
`commit` (atomic writes), `manifest`, `zips`, `lock`, `progress`, and `run` (`build` itself).

Guarantees, and how they are kept:
- *Atomic.* Every file is staged under a hidden temporary name in its final folder (fsynced) and
  renamed into place. A pack is committed as a unit: all files are staged first, the old manifest
  is moved aside, the files are renamed, and the new manifest is renamed in last. So whenever a
  `manifest.json` exists, every file it lists is complete and matches it; a build killed at any
  point leaves other packs untouched and at worst one pack without a manifest (rebuilt next time).
- *Reproducible.* Renderers get the build time from `SOURCE_DATE_EPOCH`; manifests and zips use
  it too (sorted members, fixed times and permissions), so a rebuild gives the same bytes.
- *Incremental.* Each manifest records a fingerprint of everything that shapes the pack (canon
  digest, layout files, product code and version, library versions, formats, options); a pack
  whose fingerprint and files are unchanged is skipped without composing or importing a renderer.
- *Parallel.* Workers come from a forkserver that has imported the renderers once; each worker
  renders and writes whole packs, keeps its per-process caches (CSS, fonts, templates) and is
  replaced after a bounded number of packs so memory stays flat. The heaviest packs go first
  (`largest_first`), so the workers finish together.
- *Exclusive.* One build per `out/` at a time (an flock'ed lock file).
"""

from __future__ import annotations

from pipeline.build.commit import TEMP_SUFFIX, commit_pack, open_atomic, sweep_temps, write_atomic
from pipeline.build.fingerprint import (
    build_inputs,
    code_digest,
    common_fingerprint,
    current_manifest,
    fingerprint,
    layout_digest,
)
from pipeline.build.lock import LOCK_FILE, build_lock
from pipeline.build.manifest import (
    LIBRARIES,
    MANIFEST,
    PRODUCT,
    PackFile,
    generator_info,
    library_versions,
    manifest,
    product_version,
)
from pipeline.build.progress import BuildReport, Progress, console_is_tty
from pipeline.build.run import build
from pipeline.build.selection import default_jobs, select, source_date_epoch
from pipeline.build.workers import (
    DEFAULT_COMPOSE,
    MAX_TASKS_PER_CHILD,
    PackJob,
    PackResult,
    PackTask,
    build_pack,
    largest_first,
    render_pack,
    render_weight,
    start_workers_early,
)
from pipeline.build.zips import (
    SELECTION_ZIP,
    ensure_zip,
    pack_members,
    read_pack,
    write_zip,
    zip_bytes,
    zip_is_current,
)

__all__ = [
    "DEFAULT_COMPOSE",
    "LIBRARIES",
    "LOCK_FILE",
    "MANIFEST",
    "MAX_TASKS_PER_CHILD",
    "PRODUCT",
    "SELECTION_ZIP",
    "TEMP_SUFFIX",
    "BuildReport",
    "PackFile",
    "PackJob",
    "PackResult",
    "PackTask",
    "Progress",
    "build",
    "build_inputs",
    "build_lock",
    "build_pack",
    "code_digest",
    "commit_pack",
    "common_fingerprint",
    "console_is_tty",
    "current_manifest",
    "default_jobs",
    "ensure_zip",
    "fingerprint",
    "generator_info",
    "largest_first",
    "layout_digest",
    "library_versions",
    "manifest",
    "open_atomic",
    "pack_members",
    "product_version",
    "read_pack",
    "render_pack",
    "render_weight",
    "select",
    "source_date_epoch",
    "start_workers_early",
    "sweep_temps",
    "write_atomic",
    "write_zip",
    "zip_bytes",
    "zip_is_current",
]
