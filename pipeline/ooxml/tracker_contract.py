"""The XLSX tracker's read-back contract: what `pipeline.render.to_xlsx` writes into the
`veryHidden` `_meta` sheet and `pipeline.harvest.xlsx_tracker`, `verify` and `collect` read back,
declared once.

`_meta` is a table with the columns `META_HEADER`. Its records:

- `meta`: (`name`, `value`), one per `META_KEYS` entry: what the file is (`format`,
  `format_version`: the reader refuses anything else), whom it was issued for (`profile`,
  `canon_digest`, `canon_version`) and which build wrote it (`generator`, the one row the tamper
  check ignores);
- `column`: (`sheet`, `name` = the column title, `value` = its letter, `text` = its `Role`);
- `row`: (`sheet`, `name` = the row key, `value` = its row number, `text` = the `signature` of
  its locked cells, `inputs` = its open inputs as a JSON object {column title: placeholder key
  or ""}).

Rows are matched by the hidden Key column (`Role.KEY`), never by position; a row whose key was
lost is matched by its signature when that is unique. Each input column also gets a workbook
name (`defined_name`).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from enum import StrEnum

from pipeline.ooxml.form_contract import (
    EMPLOYEE_KEY,
    MANAGER_KEY,
    PERIOD_END_KEY,
    PERIOD_START_KEY,
)

#: What the `_meta` sheet says this file is; the reader refuses anything else.
FORMAT = "jobframe-packs/mbo-tracker"
#: Bumped when the `_meta` contract changes incompatibly.
FORMAT_VERSION = 1
META_SHEET = "_meta"
#: `_meta` columns (see the module docstring for what each record puts where).
META_HEADER = ("record", "sheet", "name", "value", "text", "inputs")
#: `_meta`'s record kinds (its `record` column).
META_RECORD = "meta"
COLUMN_RECORD = "column"
ROW_RECORD = "row"
#: The `meta` records' names.
FORMAT_KEY = "format"
FORMAT_VERSION_KEY = "format_version"
PROFILE_KEY = "profile"
CANON_DIGEST_KEY = "canon_digest"
CANON_VERSION_KEY = "canon_version"
#: Which build wrote the file (not what the file is).
GENERATOR_KEY = "generator"
#: The `meta` records, in the order they are written.
META_KEYS = (
    FORMAT_KEY,
    FORMAT_VERSION_KEY,
    PROFILE_KEY,
    CANON_DIGEST_KEY,
    CANON_VERSION_KEY,
    GENERATOR_KEY,
)


class Role(StrEnum):
    """What a column holds; written into `_meta` so the reader knows which cells are inputs."""

    NUMBER = "number"
    HEADING = "heading"
    LABEL = "label"
    TEXT = "text"
    SOURCE = "source"
    INPUT = "input"
    KEY = "key"


def signature(values: Sequence[object]) -> str:
    """A digest of a row's locked text: the reader's fallback when a row's key cell is lost.

    A digest, not the text, because canon text may be long and a cell holds 32,767 characters.
    """
    text = json.dumps(["" if v is None else str(v) for v in values], ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def defined_name(sheet: str, column: str) -> str:
    """`MBO_Target`: a workbook name for an input column (letters, digits, `_` only)."""
    raw = re.sub(r"[^A-Za-z0-9_]+", "_", f"{sheet}_{column}").strip("_")
    return raw if raw[:1].isalpha() else f"_{raw}"


#: The Read me lines of a cycle's personal tracker: label, then the review fields they show
#: (`pipeline.cycle.personal` patches them in per person).
PERSONAL_LINES = (
    ("Employee", (EMPLOYEE_KEY,)),
    ("Manager", (MANAGER_KEY,)),
    ("Review period", (PERIOD_START_KEY, PERIOD_END_KEY)),
)
