"""Import a job-description page (plain text or saved HTML) into the canon format (design.md §3).

The page is untrusted and comes in variants: `  • ` or `- ` bullets, with or without blank lines,
with or without the "Back to Home" line, the tag line or a salary, emoji before headings, and
sometimes cut off. Both input kinds are first reduced to the same numbered lines (`page_text`: an
HTML page by the standard library's parser, scripts and styles dropped, entities decoded, nothing
fetched), then one state machine places each line under the heading it follows
(`jobdesc_sections`); this module builds the canon record from what was placed, reads page files
and writes the record as canon YAML.

The promise is the product's: every imported text is a line of the page, verbatim (bullet marker
and surrounding white space removed, nothing else). What cannot be placed is reported with its
line number, never dropped silently and never guessed: tags glued together stay one raw line, an
unknown heading and the lines under it are reported, a section the page lacks is reported as
missing, and a last line that the page cuts off mid-sentence is left out and reported.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace
from pathlib import Path

from pipeline.diagnostics import CanonError, Collector, Problem, quoted
from pipeline.extract.canon import FORMAT_VERSION, SLUG_RE, job_description_from_source
from pipeline.extract.jobdesc_sections import SECTIONS, Placer
from pipeline.extract.nodes import RESERVED_NAMES, text_problem
from pipeline.extract.page_text import (
    MAX_PAGE_BYTES,
    decode_page,
    html_lines,
    looks_like_html,
    text_lines,
)
from pipeline.extract.yamlsource import Source
from pipeline.extract.yamlwrite import Value, emit
from pipeline.model import CareerPath, JobDescription, Located

_TITLE_RE = re.compile(
    r"key responsibilities (?:and|&) required skills for (?:an? |the )?(?P<title>\S.*)\Z",
    re.IGNORECASE | re.DOTALL,
)


@dataclass(frozen=True)
class ImportedPage:
    """A parsed page: the canon record, the counts per heading, and what was not imported."""

    job_description: JobDescription
    #: (heading, number of items) for every section, in page order.
    counts: tuple[tuple[str, int], ...]
    #: Warnings: missing sections, unplaced lines, unknown headings, a cut-off last line.
    problems: tuple[Problem, ...]
    html: bool = False

    def report(self) -> str:
        jd = self.job_description
        out = [f'imported "{jd.title}" ({"HTML" if self.html else "text"} page)']
        if jd.salary:
            out.append(f"  salary: {jd.salary} (printed only with --include-salary)")
        if jd.tags:
            out.append(f"  tags: {len(jd.tags)} line(s), kept as on the page")
        out += [f"  {heading}: {n}" for heading, n in self.counts]
        if jd.profile:
            out.append(f"  profile: {jd.profile}")
        out += [str(p) for p in self.problems]
        warnings = len(self.problems)
        out.append(
            f"{warnings} warning{'s' if warnings != 1 else ''}"
            if warnings
            else "nothing missing or left unplaced"
        )
        return "\n".join(out)


def parse_page(text: str, display: str, html: bool | None = None) -> ImportedPage:
    """Place a decoded page's lines; raise `CanonError` when nothing usable is there."""
    is_html = looks_like_html(text, display) if html is None else html
    lines = html_lines(text) if is_html else text_lines(text)
    problems = Collector()
    if not lines:
        problems.error(display, 1, "the page has no text", "jd-empty")
        problems.raise_if_any("nothing to import")
    placer = Placer(display, lines)
    placer.run()
    placer.report_missing()
    placer.drop_cut_last_line()
    if placer.title is None:
        first = next(iter(placer.headings.values()), lines[0])
        problems.error(display, first.number, "no title line before the first heading", "jd-title")
    if not placer.items:
        problems.error(
            display,
            lines[0].number,
            "no job-description headings found (expected e.g. 'Role Definition', "
            "'Primary Functions', 'Soft Skills'); is this a job-description page?",
            "jd-empty",
        )
    title = ""
    if placer.title is not None:
        m = _TITLE_RE.match(placer.title.text)
        title = m.group("title").strip() if m else placer.title.text
    texts = [(placer.title.number if placer.title else 1, title)]
    texts += [(placer.salary_line, t) for t in (placer.salary,) if t is not None]
    texts += [(placer.tags_line, t) for t in placer.tags]
    texts += [(ln.number, ln.text) for lines_ in placer.items.values() for ln in lines_]
    for number, t in texts:
        problem = text_problem(t)
        if problem:
            problems.error(display, number, problem, "text")
    problems.raise_if_any("the page cannot be imported")
    got = {k: tuple(ln.text for ln in v) for k, v in placer.items.items()}
    jd = JobDescription(
        slug=slug_for(title, display),
        title=title,
        salary=placer.salary,
        tags=tuple(placer.tags),
        role_definition=got.get("role_definition", ()),
        career_path=CareerPath(
            entry_points=got.get("entry_points", ()),
            advancement=got.get("advancement", ()),
            lateral_moves=got.get("lateral_moves", ()),
        ),
        primary_functions=got.get("primary_functions", ()),
        secondary_functions=got.get("secondary_functions", ()),
        hard_skills=got.get("hard_skills", ()),
        soft_skills=got.get("soft_skills", ()),
        minimum_education=got.get("minimum_education", ()),
        preferred_education=got.get("preferred_education", ()),
        fields_of_study=got.get("fields_of_study", ()),
        typical_experience=got.get("typical_experience", ()),
        preferred_experience=got.get("preferred_experience", ()),
        where=Located(display, 1),
    )
    found = sorted(
        (s for s in SECTIONS if s.field in got), key=lambda s: placer.headings[s.field].number
    )
    return ImportedPage(
        job_description=jd,
        counts=tuple((s.heading, len(got[s.field])) for s in found),
        problems=tuple(sorted(placer.warnings, key=lambda p: p.line)),
        html=is_html,
    )


# ---------------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------------


def _too_large(display: str, size: int) -> CanonError:
    message = (
        f"file is {size:,} bytes; job-description pages are limited to {MAX_PAGE_BYTES:,} bytes"
    )
    return CanonError("the page is too large", [Problem(display, 0, message, "size")])


def import_page(data: bytes, display: str, html: bool | None = None) -> ImportedPage:
    """Bytes of a page -> an imported job description; raises `CanonError` if unusable."""
    if len(data) > MAX_PAGE_BYTES:
        raise _too_large(display, len(data))
    text, notes = decode_page(data, display)
    page = parse_page(text, display, html)
    if notes:
        page = replace(page, problems=tuple(sorted((*page.problems, *notes), key=lambda p: p.line)))
    return page


def read_page(path: Path, display: str | None = None) -> ImportedPage:
    """Read a page file (never more than the size limit) and import it."""
    display = display if display is not None else str(path)
    try:
        if not path.is_file():
            what = "no such file" if not path.exists() else "not a regular file"
            raise CanonError("cannot read the page", [Problem(display, 0, what, "io")])
        with path.open("rb") as fh:
            data = fh.read(MAX_PAGE_BYTES + 1)
    except OSError as exc:
        raise CanonError(
            "cannot read the page",
            [Problem(display, 0, f"cannot read file: {exc.strerror or exc}", "io")],
        ) from None
    if len(data) > MAX_PAGE_BYTES:
        raise _too_large(display, path.stat().st_size)
    return import_page(data, display)


def slug_for(title: str, display: str = "") -> str:
    """The canon file name for a title: lower-case ASCII letters, digits and '-' only."""
    ascii_title = (
        unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode("ascii").lower()
    )
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title).strip("-")[:80].rstrip("-")
    why = None
    if not SLUG_RE.match(slug):
        why = "gives no file name (it needs letters a–z or digits)"
    elif slug.upper() in RESERVED_NAMES:
        why = f"gives the file name '{slug}', which Windows reserves for a device"
    if why is not None:
        problem = Problem(display, 0, f"the title {quoted(title)} {why}", "jd-title")
        raise CanonError("no file name for this title", [problem])
    return slug


# ---------------------------------------------------------------------------------------------
# Canon YAML
# ---------------------------------------------------------------------------------------------

COMMENT = (
    "yaml-language-server: $schema=../../pipeline/schema/job-description.schema.json\n"
    "Job description imported with `packs import-jd`: every text is verbatim from the page.\n"
    "Edit with care: the role profile prints these lines as they are."
)


def job_description_data(jd: JobDescription) -> dict[str, Value]:
    """The canon document of a job description, keys in the order of design.md §3."""
    doc: dict[str, Value] = {"canon": FORMAT_VERSION, "title": jd.title}
    if jd.profile:
        doc["profile"] = jd.profile
    if jd.salary:
        doc["salary"] = jd.salary
    doc["tags"] = jd.tags
    doc["role_definition"] = jd.role_definition
    doc["career_path"] = {
        "entry_points": jd.career_path.entry_points,
        "advancement": jd.career_path.advancement,
        "lateral_moves": jd.career_path.lateral_moves,
    }
    doc["primary_functions"] = jd.primary_functions
    doc["secondary_functions"] = jd.secondary_functions
    doc["hard_skills"] = jd.hard_skills
    doc["soft_skills"] = jd.soft_skills
    doc["education"] = {
        "minimum": jd.minimum_education,
        "preferred": jd.preferred_education,
        "fields_of_study": jd.fields_of_study,
    }
    doc["experience"] = {"typical": jd.typical_experience, "preferred": jd.preferred_experience}
    return doc


def job_description_yaml(jd: JobDescription) -> str:
    """Canon YAML for `jd`, checked by reading it back with the canon loader before returning."""
    text = emit(job_description_data(jd), COMMENT)
    display = f"job-descriptions/{jd.slug}.yaml"
    problems = Collector()
    again = job_description_from_source(Source(display, text), jd.slug, problems)
    if again != jd:
        detail = "; ".join(str(p) for p in problems.problems) or "the text read back differs"
        raise AssertionError(f"canon YAML for {jd.slug} does not read back: {detail}")
    return text
