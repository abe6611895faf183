"""The README's "What bad input does" section, generated from the case table.

    python -m tests.adversarial.readme           # print the section
    python -m tests.adversarial.readme --write   # put it into README.md between the markers

The section sits between `<!-- bad-input:start -->` and `<!-- bad-input:end -->`, before the
"## Tests" heading; `test_table.py` fails when README.md and the table differ.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tests.adversarial.cases import CASES, FAMILIES, cases

README = Path(__file__).resolve().parents[2] / "README.md"
START = "<!-- bad-input:start -->"
END = "<!-- bad-input:end -->"
#: The section goes before this heading when the markers are not there yet.
BEFORE = "## Tests"
COMMAND = "python -m tests.adversarial.readme --write"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def section() -> str:
    """The generated section, markers included, ending in a newline."""
    out = [
        START,
        "## What bad input does",
        "",
        "Generated from the case table `tests/adversarial/cases.py` by "
        f"`{COMMAND}`; a test fails when the two differ. There, every case also names the "
        "tests that assert it.",
    ]
    for family, summary in FAMILIES.items():
        out += ["", f"**{family}.** {summary}", "", "| Case | Outcome |", "|---|---|"]
        out += [f"| {_cell(c.name)} | {_cell(c.outcome)} |" for c in cases(family)]
    unknown = {c.family for c in CASES} - set(FAMILIES)
    if unknown:
        raise ValueError(f"cases in families without a summary: {sorted(unknown)}")
    out.append(END)
    return "\n".join(out) + "\n"


def with_section(readme: str) -> str:
    """`readme` with the generated section in place (replaced, or inserted before ## Tests)."""
    new = section()
    if START in readme and END in readme:
        head, rest = readme.split(START, 1)
        _, tail = rest.split(END, 1)
        return head + new.rstrip("\n") + tail
    if f"\n{BEFORE}\n" not in readme:
        raise ValueError(f"README.md has no '{BEFORE}' heading to put the section before")
    head, tail = readme.split(f"\n{BEFORE}\n", 1)
    return f"{head}\n{new}\n{BEFORE}\n{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="update README.md in place")
    args = parser.parse_args(argv)
    if args.write:
        text = README.read_text(encoding="utf-8")
        README.write_text(with_section(text), encoding="utf-8", newline="\n")
        print(f"updated {README}")
    else:
        sys.stdout.write(section())
    return 0


if __name__ == "__main__":
    sys.exit(main())
