"""Role profile: the linked job description, verbatim, one group per heading (design.md §4)."""

from __future__ import annotations

from pipeline.model import JD_HEADINGS, Frame, Group, Item, JobDescription, Profile, Text

TITLE = "Role profile"


def sections(jd: JobDescription, include_salary: bool) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(heading as the page has it, items) in the order design.md §4 fixes."""
    out: list[tuple[str, tuple[str, ...]]] = []
    if include_salary and jd.salary:
        out.append(("Salary", (jd.salary,)))
    out += [(heading, jd.items(name)) for name, heading in JD_HEADINGS.items()]
    return tuple(out)


def compose(profile: Profile, include_salary: bool = False) -> Frame | None:
    jd = profile.job_description
    if jd is None:
        return None
    groups = []
    for heading, texts in sections(jd, include_salary):
        if not texts:
            continue
        gkey = "role." + heading.lower().split(" (")[0].replace(" ", "-")
        items = tuple(
            Item(f"{gkey}.{n}", (Text(t),), f"job description ({heading})")
            for n, t in enumerate(texts, 1)
        )
        groups.append(Group(gkey, heading, items))
    if not groups:
        return None
    return Frame("role", TITLE, "Role profile", None, tuple(groups))
