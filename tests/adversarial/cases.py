"""Every adversarial case, its exact outcome, and the test that asserts it: the suite's table.

The README's "What bad input does" section is generated from this table
(`python -m tests.adversarial.readme --write`) and `test_table.py` fails when they differ or
when a case names a test that does not exist. Canon-file cases carry their input and the exact
lines `packs build` must print; `test_canon_files.py` runs every one of them, so the table, the
README and the test cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

_X = "tests/test_exchange.py::"

# --- families -----------------------------------------------------------------------------------

CANON = "Canon files"
LAYOUT = "Layout files"
CODE = "Text that is code somewhere"
JOBDESC = "Job-description importer"
RETURNED = "Returned files"
FAULTS = "Faults"
WEB = "The download page"
WORKBOOK = "Canon workbook importer"
GOAL_PAGE = "Goal-page importer"
HARVEST = "Harvest"
PROPERTIES = "Property tests"
ROSTER = "Rosters"

#: Family -> what every case of it shares (printed under the family's heading).
FAMILIES: dict[str, str] = {
    CANON: (
        "`packs build --canon canon --out out`. Refused input: the exact lines below on stderr, "
        "then `N problem(s) found`; exit 1; no traceback; nothing written under `--out`."
    ),
    LAYOUT: (
        "`packs build --canon canon --out out --layout layouts/test`, the layout a copy of the "
        "default one's files with a small `layout.yaml` (`tests/adversarial/cases.py`, "
        "BASE_LAYOUT) edited. Refused: every problem of the file at once, `layout.yaml:LINE: "
        "error: key: what was expected [layout]`, then `N problem(s) found`; exit 1; no "
        "traceback; nothing written under `--out`."
    ),
    CODE: (
        "Canon text in every field that is markup, a script, a URL, a field code or a formula, "
        "built into every format and read back with a real reader: it shows literally, "
        "nothing is fetched, nothing runs."
    ),
    JOBDESC: (
        "`packs import-jd FILE`: exit 1 with a located error and nothing written, or literal text."
    ),
    RETURNED: (
        "Filled forms and trackers read back (`pipeline.harvest`): a clear `PacksError`, never a "
        "traceback; nothing is extracted to disk and no entity is expanded."
    ),
    FAULTS: "`packs build` when the machine misbehaves.",
    WEB: (
        "`packs serve`, at the HTTP level (Starlette's TestClient) and as a real server on "
        "127.0.0.1 port 0; every response carries the security headers "
        "(`Content-Security-Policy` with no inline script and `frame-ancestors 'none'`, "
        "`X-Content-Type-Options: nosniff`)."
    ),
    WORKBOOK: (
        "`packs import-canon FILE.xlsx|FOLDER --canon DIR`: every problem at once, located as "
        "`FILE.xlsx:Sheet!A1` (a CSV as `file.csv:LINE`); exit 1; no traceback; nothing written."
    ),
    GOAL_PAGE: (
        "`packs import-page FILE --canon DIR`: the profile is composed again and every copy block "
        "of the page must come back byte for byte; otherwise exit 1, located, nothing written."
    ),
    HARVEST: (
        "`packs harvest --canon DIR RETURNED...`: every returned file is one row of `Returns` "
        "with its verdict and message; returned files are only read; the workbook is written "
        "even when some files have problems (exit 1)."
    ),
    ROSTER: (
        "`packs cycle roster.csv --name 2027-annual --period 2027-01-01/2027-12-31`. Refused "
        "input: every problem of the roster and the arguments at once, `path:line: error: "
        "column '…': … [code]`, then `N problems found`; exit 1; no traceback; nothing written "
        "under `--out`. Messages name the row and the employee id, never a name or an e-mail."
    ),
    PROPERTIES: "Hypothesis (`HYPOTHESIS_PROFILE=ci` in CI, `python3 tasks.py fuzz` for more).",
}


@dataclass(frozen=True)
class Case:
    family: str
    name: str
    #: The exact outcome, as the README states it.
    outcome: str
    #: The pytest nodes (`path::function`, with `[id]` for one parameter) that assert it.
    tests: tuple[str, ...]


@dataclass(frozen=True)
class CanonCase:
    """A canon that `packs build` must refuse: files replacing the base canon's, and the lines."""

    name: str
    #: Canon-relative path -> file bytes (added to, or replacing, the base canon's files).
    files: Mapping[str, bytes]
    #: Every problem line, exactly, in the order printed.
    expect: tuple[str, ...]
    #: A file the input would create if anything in it ran (the tag case).
    must_not_exist: str | None = field(default=None)


# --- the base canon the canon-file cases edit -----------------------------------------------------

LEVELS = (
    "canon: 1\n"
    "levels:\n"
    "  M4:\n"
    "    title: Director\n"
    "    track: management\n"
    "    dimensions:\n"
    "      scope: A function or department\n"
)
FOCUS_PATH = "focuses/OPS.TEST.yaml"
#: Shown paths: the tests run `packs build --canon canon` from a scratch folder.
SHOWN = f"canon/{FOCUS_PATH}"


def focus(
    responsibility: str = '"Plans the work"',
    function: str = "{code: OPS, name: Operations}",
    level: str = "M4",
    extra: str = "",
) -> bytes:
    """The base focus file (7 lines; the responsibility is on line 7), with one part replaced."""
    return (
        "canon: 1\n"
        f"function: {function}\n"
        "focus: {code: TEST, name: Test}\n"
        "profiles:\n"
        f"  {level}:\n"
        "    responsibilities:\n"
        f"      - {responsibility}\n"
        f"{extra}"
    ).encode()


def _alias_bomb() -> bytes:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        name, prev = chr(97 + i), chr(96 + i)
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    return ("\n".join(lines) + "\n").encode()


def _deep() -> bytes:
    """A mapping nested 20 deep, one level a line: the 17th level (line 17) is refused."""
    return "".join(f"{'  ' * i}k{i}:\n" for i in range(20)).encode() + b"  " * 20 + b"x\n"


def _unsafe_id(shown: str) -> tuple[str]:
    return (
        f"{SHOWN}:2: error: function.code: '{shown}' is not a valid code (upper-case letters "
        "and digits, starting with a letter, e.g. 'CLINIC') [unsafe-id]",
    )


CANON_FILE_CASES: tuple[CanonCase, ...] = (
    CanonCase(
        "malformed YAML",
        {FOCUS_PATH: b"canon: 1\nfunction: {code: OPS, name: [\n"},
        (
            f"{SHOWN}:3: error: malformed YAML: while parsing a flow node; did not find "
            "expected node content [yaml]",
        ),
    ),
    CanonCase(
        "duplicate key",
        {FOCUS_PATH: focus(extra='    responsibilities: ["Again"]\n')},
        (
            f"{SHOWN}:8: error: profiles.M4: duplicate key 'responsibilities' (first at line 6) "
            "[duplicate-key]",
        ),
    ),
    CanonCase(
        "unknown key",
        {FOCUS_PATH: focus(extra="    colour: red\n")},
        (
            f"{SHOWN}:8: error: profiles.M4: unknown key 'colour' (expected one of: components, "
            "confidence, core_outputs, pay, region, responsibilities, rubrics, status, title, "
            "version) [unknown-key]",
        ),
    ),
    CanonCase(
        "wrong type",
        {FOCUS_PATH: focus("42")},
        (
            f"{SHOWN}:7: error: profiles.M4.responsibilities[1]: expected text, got a whole "
            'number (put it in quotes: "42") [schema]',
        ),
    ),
    CanonCase(
        "YAML alias bomb (anchors)",
        {FOCUS_PATH: _alias_bomb()},
        (f"{SHOWN}:1: error: YAML anchor '&a' is not allowed in canon files [yaml-anchor]",),
    ),
    CanonCase(
        "YAML alias",
        {FOCUS_PATH: focus("*plans")},
        (
            f"{SHOWN}:7: error: YAML alias '*plans' is not allowed in canon files; write the "
            "value out [yaml-alias]",
        ),
    ),
    CanonCase(
        "custom tag (!!python/object/apply)",
        {FOCUS_PATH: focus('!!python/object/apply:os.system ["touch PWNED"]')},
        (
            f"{SHOWN}:7: error: YAML tag 'tag:yaml.org,2002:python/object/apply:os.system' is "
            "not allowed in canon files; use plain values [yaml-tag]",
        ),
        must_not_exist="PWNED",
    ),
    CanonCase(
        "huge file (3 MiB)",
        {FOCUS_PATH: focus() + b"# " + b"x" * (3 * 1024 * 1024) + b"\n"},
        (
            f"{SHOWN}:1: error: file is 3,145,875 bytes; canon files are limited to 2,097,152 "
            "bytes [size]",
        ),
    ),
    CanonCase(
        "deeply nested structure",
        {FOCUS_PATH: _deep()},
        (
            f"{SHOWN}:17: error: nesting deeper than 16 levels; canon files are shallow "
            "[yaml-depth]",
        ),
    ),
    CanonCase(
        "invalid UTF-8",
        {FOCUS_PATH: focus('"Caf\u00e9"').replace("é".encode(), b"\xe9")},
        (
            f"{SHOWN}:7: error: invalid UTF-8 (byte 0xe9 at offset 131); save the file as UTF-8 "
            "[encoding]",
        ),
    ),
    CanonCase(
        "raw control character (U+0007)",
        {FOCUS_PATH: focus('"Plans\x07"')},
        (
            f"{SHOWN}:7: error: malformed YAML: control character U+0007 at column 15 is not "
            "allowed in YAML files; remove it [yaml]",
        ),
    ),
    CanonCase(
        "YAML-escaped control character (\\x07, \\0)",
        {FOCUS_PATH: focus('"Plans\\x07"', extra='      - "\\0"\n')},
        (
            f"{SHOWN}:7: error: profiles.M4.responsibilities[1]: text contains the control "
            "character U+0007 at position 6, which no document format can carry [text]",
            f"{SHOWN}:8: error: profiles.M4.responsibilities[2]: text contains the control "
            "character U+0000 at position 1, which no document format can carry [text]",
        ),
    ),
    CanonCase(
        "empty string",
        {FOCUS_PATH: focus('""')},
        (
            f"{SHOWN}:7: error: profiles.M4.responsibilities[1]: text is empty or only white "
            "space [text]",
        ),
    ),
    CanonCase(
        "whitespace-only text",
        {FOCUS_PATH: focus('" \\t\\u3000 "')},
        (
            f"{SHOWN}:7: error: profiles.M4.responsibilities[1]: text is empty or only white "
            "space [text]",
        ),
    ),
    CanonCase(
        "empty file",
        {FOCUS_PATH: b""},
        (f"{SHOWN}:1: error: file is empty; expected a mapping with 'canon: 1' [schema]",),
    ),
    CanonCase(
        "unknown level code",
        {FOCUS_PATH: focus(level="M9")},
        (
            f"{SHOWN}:5: error: profiles: unknown level code 'M9' (expected P1–P8, M1–M6, E1–E5 "
            "or S1) [unknown-level]",
        ),
    ),
    CanonCase(
        "level missing from levels.yaml",
        {FOCUS_PATH: focus(level="P1")},
        (
            f"{SHOWN}:5: error: profiles: level 'P1' is not defined in canon/levels.yaml "
            "[unknown-level]",
        ),
    ),
    CanonCase(
        "level code '../x'",
        {FOCUS_PATH: focus(level='"../x"')},
        (
            f"{SHOWN}:5: error: profiles: unknown level code '../x' (expected P1–P8, M1–M6, "
            "E1–E5 or S1) [unknown-level]",
        ),
    ),
    CanonCase(
        "unsafe id '../x'",
        {FOCUS_PATH: focus(function='{code: "../x", name: Operations}')},
        _unsafe_id("../x"),
    ),
    CanonCase(
        "unsafe id 'a/b'",
        {FOCUS_PATH: focus(function='{code: "a/b", name: Operations}')},
        _unsafe_id("a/b"),
    ),
    CanonCase(
        "unsafe id: absolute path",
        {FOCUS_PATH: focus(function='{code: "/etc/passwd", name: Operations}')},
        _unsafe_id("/etc/passwd"),
    ),
    CanonCase(
        "unsafe id with NUL",
        {FOCUS_PATH: focus(function='{code: "OPS\\0", name: Operations}')},
        _unsafe_id("OPS\\u0000"),
    ),
    CanonCase(
        "unsafe id 'CON' (Windows device)",
        {FOCUS_PATH: focus(function="{code: CON, name: Operations}")},
        (
            f"{SHOWN}:2: error: function.code: 'CON' is a reserved device name on Windows and "
            "cannot start a file name; choose another code [unsafe-id]",
        ),
    ),
)

#: A complete, small layout.yaml the layout-file cases edit (the default layout's other files
#: beside it); its line numbers are the cases' (line 7: long_word).
BASE_LAYOUT = """\
name: test
handout:
  template: handout.html.j2
  stylesheet: handout.css
  author: JobFrame canon
  language: en
  long_word: 30
  mark_join: 4
  page_sizes: {A4: A4, Letter: letter}
docx:
  page_sizes: {A4: [11906, 16838], Letter: [12240, 15840]}
  margins: {top: 1134, right: 1134, bottom: 1134, left: 1134}
  styles:
    title: Title
    breadcrumb: Subtitle
    intro: Intro
    badges: Badges
    frame_title: Heading1
    frame_intro: FrameIntro
    record_heading: Heading2
    source_line: SourceLine
    field: FieldLine
    key_result: KeyResult
    group_heading: Heading3
    item: ListBullet
    table: FormTable
    table_heading: TableHeading
    table_text: TableText
    form_line: FormLine
    field_label: FieldLabel
    source_label: SourceLabel
    placeholder: PlaceholderText
xlsx:
  colours: {header_fill: D9E2F3, input_fill: FFF9E5,
            placeholder_fill: FFC7CE, placeholder_font: 9C0006}
  columns:
    number: {title: "No."}
    heading: {title: Heading}
    label: {title: Field}
    text: {title: Text}
    group: {title: Group}
    item: {title: Item}
    source: {title: Source}
    key: {title: Key}
  inputs:
    - {title: Baseline, placeholder: baseline, check: decimal}
    - {title: Target, placeholder: target, check: decimal}
    - {title: Due, placeholder: date}
  checks:
    decimal: {min: -1000, max: 1000}
  readme: {sheet: Read me, profile_label: Profile, digest_label: Canon digest,
           version_label: Canon version, how_to_title: How to use, sheets_title: Sheets}
"""
#: Shown path of the edited layout file.
LAYOUT_SHOWN = "layouts/test/layout.yaml"


@dataclass(frozen=True)
class LayoutCase:
    """BASE_LAYOUT with some text replaced (and layout files removed), and the exact lines."""

    name: str
    #: (old, new) replacements applied to BASE_LAYOUT in order.
    edits: tuple[tuple[str, str], ...]
    expect: tuple[str, ...]
    #: Layout files removed from the copy.
    removed: tuple[str, ...] = ()

    def text(self) -> str:
        text = BASE_LAYOUT
        for old, new in self.edits:
            assert old in text, old
            text = text.replace(old, new, 1)
        return text


def _at(line: int, message: str, code: str = "layout") -> str:
    return f"{LAYOUT_SHOWN}:{line}: error: {message} [{code}]"


_HANDOUT_KEYS = (
    "author, language, long_word, mark_join, markup, page_sizes, pdf_variant, stylesheet, "
    "template, user_agent_stylesheet"
)
LAYOUT_FILE_CASES: tuple[LayoutCase, ...] = (
    LayoutCase(
        "wrong type",
        (("long_word: 30", "long_word: thirty"),),
        (_at(7, "handout.long_word: expected a whole number, found 'thirty'"),),
    ),
    LayoutCase(
        "a number out of range",
        (("long_word: 30", "long_word: 0"),),
        (_at(7, "handout.long_word: expected a whole number of at least 1, found 0"),),
    ),
    LayoutCase(
        "unknown key",
        (("  language: en\n", "  language: en\n  colour: red\n"),),
        (_at(7, f"handout.colour: unknown setting (expected one of: {_HANDOUT_KEYS})"),),
    ),
    LayoutCase(
        "a choice not offered",
        (("  mark_join: 4\n", "  mark_join: 4\n  markup: sgml\n"),),
        (_at(9, "handout.markup: expected one of html, xhtml, found 'sgml'"),),
    ),
    LayoutCase(
        "missing template",
        (),
        (
            _at(
                3,
                "handout.template: expected a file of the layout folder (handout.html.j2 is "
                "missing)",
            ),
        ),
        removed=("handout.html.j2",),
    ),
    LayoutCase(
        "a template outside the layout folder",
        (("template: handout.html.j2", "template: ../../../etc/passwd"),),
        (_at(3, "handout.template: expected a file inside the layout folder"),),
    ),
    LayoutCase(
        "missing section",
        (("docx:\n", "docs:\n"),),
        (
            _at(1, "docx: missing setting (expected a mapping of settings)"),
            _at(10, "docs: unknown setting (expected one of: docx, handout, name, page, xlsx)"),
        ),
    ),
    LayoutCase(
        "a setting no longer read (an older layout's date locale)",
        (
            (
                "  margins: {top: 1134, right: 1134, bottom: 1134, left: 1134}\n",
                "  margins: {top: 1134, right: 1134, bottom: 1134, left: 1134}\n"
                "  date: {format: yyyy-MM-dd, locale: en-GB}\n",
            ),
        ),
        (
            _at(
                13,
                "docx.date.locale: no longer read (the date fields are text form fields, which "
                "carry no date language; Word reads a typed date by the computer's regional "
                "settings, and the form's language is its reference document's); delete it",
            ),
        ),
    ),
    LayoutCase(
        "missing style role",
        (("    placeholder: PlaceholderText\n", ""),),
        (_at(14, "docx.styles.placeholder: missing setting (expected text)"),),
    ),
    LayoutCase(
        "duplicate key",
        (("  language: en\n", "  language: en\n  language: fr\n"),),
        (_at(7, "handout.language: duplicate setting (first at line 6)"),),
    ),
    LayoutCase(
        "a check no check declares",
        (("placeholder: date}", "placeholder: date, check: dates}"),),
        (_at(48, "xlsx.inputs[2].check: expected one of the checks decimal"),),
    ),
    LayoutCase(
        "malformed YAML",
        (("  page_sizes: {A4: A4, Letter: letter}", "  page_sizes: {A4: [A4, Letter: letter}"),),
        (
            _at(
                9,
                "malformed YAML: while parsing a flow sequence; did not find expected ',' or ']'",
                "yaml",
            ),
        ),
    ),
    LayoutCase(
        "every problem of a file at once",
        (
            ("long_word: 30", "long_word: thirty"),
            ("docx:\n", "docs:\n"),
            ("placeholder: date}", "placeholder: dates}"),
        ),
        (
            _at(1, "docx: missing setting (expected a mapping of settings)"),
            _at(
                3,
                "handout.template: expected a file of the layout folder (handout.html.j2 is "
                "missing)",
            ),
            _at(7, "handout.long_word: expected a whole number, found 'thirty'"),
            _at(10, "docs: unknown setting (expected one of: docx, handout, name, page, xlsx)"),
            _at(
                48,
                "xlsx.inputs[2].placeholder: expected one of target, baseline, date, found 'dates'",
            ),
        ),
        removed=("handout.html.j2",),
    ),
)

_HERE = "tests/adversarial"
CANON_TEST = f"{_HERE}/test_canon_files.py::test_bad_canon_is_refused_with_exact_lines"
_CANON_T = f"{_HERE}/test_canon_files.py::"
LAYOUT_TEST = f"{_HERE}/test_layout_files.py::test_a_bad_layout_is_refused_with_exact_lines"
_CODE_T = f"{_HERE}/test_code_as_text.py::"
_JD_T = f"{_HERE}/test_jobdesc_files.py::"
_RET_T = f"{_HERE}/test_returned_files.py::"
_ANY_T = f"{_HERE}/test_any_text.py::"
_BUILD_T = "tests/test_build.py::"
_FAULT_T = f"{_HERE}/test_faults.py::"
_WEB_T = "tests/test_serve.py::"
_BROWSER_T = "tests/test_serve_browser.py::"
_WEBC_T = "tests/test_serve_cycles.py::"


def _canon_outcome(case: CanonCase | LayoutCase) -> str:
    shown = "; ".join(f"`{line}`" for line in case.expect)
    if isinstance(case, CanonCase) and case.must_not_exist:
        shown += " (nothing in it runs)"
    return shown


CASES: tuple[Case, ...] = (
    *(
        Case(CANON, c.name, _canon_outcome(c), (f"{CANON_TEST}[{c.name}]",))
        for c in CANON_FILE_CASES
    ),
    *(
        Case(LAYOUT, c.name, _canon_outcome(c), (f"{LAYOUT_TEST}[{c.name}]",))
        for c in LAYOUT_FILE_CASES
    ),
    Case(
        CANON,
        "text over 20,000 characters",
        "`…: text is 20,001 characters; the limit is 20,000 [text]`",
        ("tests/test_extract.py::test_text_over_the_limit_is_refused",),
    ),
    Case(
        CANON,
        "every problem of a broken canon at once (file names, versions, links too)",
        "24 located lines in one run, exit 1 (golden `tests/cases/broken/expected/check.txt`); "
        "`build` writes nothing",
        (
            "tests/test_extract.py::test_check_reports_every_problem_with_file_and_line",
            "tests/test_extract.py::test_build_with_broken_canon_writes_nothing",
        ),
    ),
    Case(
        CANON,
        "BOM and CRLF line ends",
        "accepted: exit 0, byte-identical packs to the plain file's",
        (f"{_CANON_T}test_bom_and_crlf_build_the_same_packs",),
    ),
    Case(
        CANON,
        "a 10,000-character sentence",
        "accepted: verbatim in TXT, DOCX, XLSX cells and the PDF text layer; the PDF and "
        "LibreOffice's print of the DOCX and XLSX stay within 40 pages; XLSX rows stop at "
        "409 pt (Excel's limit), so the tracker prints the sentence's start",
        (
            f"{_CANON_T}test_a_10000_character_sentence_renders_everywhere",
            f"{_CANON_T}test_the_long_sentence_prints_in_libreoffice_without_exploding",
        ),
    ),
    Case(
        CANON,
        "a 315-letter word with no break opportunity",
        "built, exit 0: the handout wraps it at invisible break points (U+200B every 30 "
        "characters), so all of it prints inside the page; the text layer has every letter and "
        "no U+200B",
        (f"{_CANON_T}test_a_long_unbreakable_word_stays_on_the_pdf_page",),
    ),
    # --- text that is code ------------------------------------------------------------------
    Case(
        CODE,
        "HTML/JS (`<script>alert(1)</script>`, `<img src=x onerror=alert(1)>`)",
        "literal in TXT, DOCX, XLSX, the PDF (pypdf and pdftotext) and the PDF's frames JSON, "
        "in every field kind",
        (f"{_CODE_T}test_every_format_shows_the_code_literally",),
    ),
    Case(
        CODE,
        "CSS `url()` and `@import`, `file:///etc/passwd`, `http://example.invalid/x.png`",
        "literal; the handout's fetcher is never asked for a URL, WeasyPrint logs nothing; no "
        "link, script or open action in the PDF",
        (
            f"{_CODE_T}test_every_format_shows_the_code_literally",
            f"{_CODE_T}test_the_pdf_fetches_nothing_and_links_nowhere",
        ),
    ),
    Case(
        CODE,
        'Word field codes and XML (`{ HYPERLINK "http://x" }`, `<w:fldSimple …>`, `<w:t>`, `]]>`)',
        "literal text runs: no `w:fldSimple`, `w:hyperlink` or field instruction (only the "
        "footer's PAGE/NUMPAGES and the form's own FORMTEXT fields), no external relationship; "
        "LibreOffice prints them as typed, with no link",
        (
            f"{_CODE_T}test_docx_has_no_fields_and_no_links",
            f"{_CODE_T}test_libreoffice_prints_the_code_as_text[hostile-form.docx]",
        ),
    ),
    Case(
        CODE,
        'formulas (`=HYPERLINK("http://x","y")`, `+1`, `-2`, `@SUM(A1)`, `\\t=1`, '
        "`=cmd|' /C calc'!A0`)",
        'string cells (`t="s"`), no `<f>` or hyperlink in any sheet, no external link part; '
        "LibreOffice prints them as typed",
        (
            f"{_CODE_T}test_xlsx_has_no_formulas_and_no_links",
            f"{_CODE_T}test_libreoffice_prints_the_code_as_text[hostile-tracker.xlsx]",
        ),
    ),
    Case(
        CODE,
        "Excel header codes in a focus name (`R&D &P &[Page]`)",
        "cells literal; the page header escapes `&` as `&&`, and a name holding `&[` gets no "
        "header (openpyxl would rewrite it)",
        (f"{_CODE_T}test_xlsx_page_header_keeps_canon_text_verbatim",),
    ),
    Case(
        CODE,
        "template syntax (`{{ 7*7 }}`, `{% raw %}`, `${x}`)",
        "literal everywhere, never evaluated",
        (f"{_CODE_T}test_every_format_shows_the_code_literally",),
    ),
    # --- job-description importer -----------------------------------------------------------
    Case(
        JOBDESC,
        "binary file",
        "`binary.txt:2: error: binary file (NUL byte at offset 13); expected a text or HTML "
        "page [binary]`",
        ("tests/test_jobdesc.py::test_unusable_files_are_refused[binary.txt]",),
    ),
    Case(
        JOBDESC,
        "empty or blank file",
        "`empty.txt:1: error: the page is empty [jd-empty]`",
        (
            "tests/test_jobdesc.py::test_unusable_files_are_refused[empty.txt]",
            "tests/test_jobdesc.py::test_unusable_files_are_refused[blank.txt]",
        ),
    ),
    Case(
        JOBDESC,
        "HTML that is only a script",
        "`scripts.html:1: error: the page has no text …`",
        ("tests/test_jobdesc.py::test_unusable_files_are_refused[scripts.html]",),
    ),
    Case(
        JOBDESC,
        "a 50 MB file",
        "`big.txt: error: file is 52,428,800 bytes; job-description pages are limited to "
        "2,097,152 bytes [size]`, having read at most 2 MiB + 1 byte of it",
        (f"{_JD_T}test_a_50_mb_page_is_refused_without_reading_it",),
    ),
    Case(
        JOBDESC,
        "HTML with scripts, styles and handlers around real sections",
        "scripts, styles and attributes never reach the canon; escaped markup in an item stays "
        "literal through the YAML, the loader and the role profile",
        (
            f"{_JD_T}test_html_scripts_are_dropped_and_markup_stays_text",
            "tests/test_jobdesc.py::test_html_page_imports_like_the_text_page",
        ),
    ),
    Case(
        JOBDESC,
        "any page text",
        "only text the page contains is imported",
        ("tests/test_jobdesc.py::test_any_page_imports_only_text_it_contains",),
    ),
    # --- returned files ---------------------------------------------------------------------
    Case(
        RETURNED,
        "not a zip",
        "`PacksError` (form), `TrackerError: not an XLSX workbook (not a zip package …)`",
        (
            "tests/test_docx.py::test_reader_rejects_what_is_not_a_form",
            "tests/test_xlsx.py::test_reader_refuses_what_is_not_a_tracker",
        ),
    ),
    Case(
        RETURNED,
        "XML external entity naming a local file (DOCX body and properties)",
        "inert: the reference stays `&s;`, the file is never read",
        (
            f"{_RET_T}test_form_entities_are_never_expanded",
            "tests/test_docx.py::test_reader_rejects_what_is_not_a_form",
        ),
    ),
    Case(
        RETURNED,
        "entity bomb (billion laughs) in a form",
        "`PacksError: the review form is not readable XML: Maximum entity amplification factor "
        "exceeded …`; memory stays small",
        (f"{_RET_T}test_an_entity_bomb_is_refused_not_expanded",),
    ),
    Case(
        RETURNED,
        "any DTD in a tracker",
        "`TrackerError: workbook part … declares a DTD; refusing it` (openpyxl never parses it)",
        ("tests/test_xlsx.py::test_reader_refuses_what_is_not_a_tracker",),
    ),
    Case(
        RETURNED,
        "zip bomb (a member unpacking to 200 MiB)",
        "`… unpacks to more than 64 MiB; refusing it` before anything is decompressed",
        (f"{_RET_T}test_zip_tricks_are_refused",),
    ),
    Case(
        RETURNED,
        "a member whose declared size lies",
        "`… part … is corrupt: Bad CRC-32 …`; memory bounded by the declared size",
        (f"{_RET_T}test_zip_tricks_are_refused",),
    ),
    Case(
        RETURNED,
        "`../` or absolute member names",
        "`… has a part named '../../evil.xml'; refusing unsafe names`",
        (f"{_RET_T}test_zip_tricks_are_refused",),
    ),
    Case(
        RETURNED,
        "two members with one name",
        "`… has two parts named …; refusing it`",
        (f"{_RET_T}test_zip_tricks_are_refused",),
    ),
    Case(
        RETURNED,
        "canon text edited, removed or added in a form or tracker",
        "`TamperedError`: `<file>: error: paragraph 12: canon text changed: expected '…', "
        "found '…' [tampered]` (`MBO!A2: …`, `after paragraph 3: canon text removed: …`, "
        "`MBO row mbo.2: …`); no values are returned",
        (
            f"{_RET_T}test_edited_canon_text_is_reported_as_tampered",
            f"{_RET_T}test_removed_and_added_text_is_tampering_too",
        ),
    ),
    Case(
        RETURNED,
        "the tracker's hidden `_meta` unhidden and edited (LibreOffice ignores the structure "
        "lock), e.g. a canon column declared an input",
        "`TamperedError`: `<file>: error: _meta!E12: canon text changed: … [tampered]`, with "
        "every canon cell the edit would have hidden; a different generator version is not "
        "tampering",
        (
            f"{_RET_T}test_an_edited_meta_sheet_is_tampered",
            f"{_RET_T}test_a_newer_generator_is_not_tampering",
        ),
    ),
    Case(
        RETURNED,
        "canon digest edited, or canon changed since issue",
        "`TamperedError`: `<file>: error: issued from canon sha256:… but <ID> is now sha256:…: "
        "the canon changed since (or the file's record of it was edited); issue a new one "
        "[stale]`",
        (
            f"{_RET_T}test_a_changed_digest_is_stale_never_accepted",
            f"{_RET_T}test_verify_refuses_a_file_for_another_profile",
        ),
    ),
    Case(
        RETURNED,
        "filled, sorted, or saved by LibreOffice",
        "intact: the values are returned",
        (
            f"{_RET_T}test_filled_and_sorted_files_are_intact",
            f"{_RET_T}test_libreoffice_saved_files_stay_intact",
        ),
    ),
    Case(
        RETURNED,
        "random byte damage, in the zip or inside an XML part",
        "a `PacksError` or a result, never another exception",
        (f"{_RET_T}test_damaged_files_never_raise_anything_else",),
    ),
    # --- faults -----------------------------------------------------------------------------
    Case(
        FAULTS,
        "build killed with SIGKILL mid-way",
        "earlier packs intact, no partial file under a final name",
        (f"{_BUILD_T}test_a_killed_build_leaves_only_complete_files",),
    ),
    Case(
        FAULTS,
        "full disk (a failing write or rename)",
        "`FAILED <ID>: cannot write: No space left on device`, exit 1; the earlier pack and "
        "file kept, no temporary left",
        (
            f"{_BUILD_T}test_a_failing_write_keeps_the_earlier_pack_whole",
            f"{_BUILD_T}test_a_full_disk_leaves_the_previous_file_and_no_temporary",
        ),
    ),
    Case(
        FAULTS,
        "`out/` not writable (a file, or under one)",
        "`cannot write to <out>`, exit 1, no traceback",
        (f"{_BUILD_T}test_out_not_writable_is_a_clear_error",),
    ),
    Case(
        FAULTS,
        "`out/` on a read-only file system",
        "`cannot write to <out>: Read-only file system`, exit 1, nothing written",
        (f"{_FAULT_T}test_a_read_only_out_folder_is_a_clear_error",),
    ),
    Case(
        FAULTS,
        "a rename failing half-way through a pack's commit",
        "`FAILED <ID>: cannot write: …: Input/output error`, exit 1; that pack keeps whole files "
        "and no manifest (so it is rebuilt next time), every manifest left matches its files, "
        "no temporary stays",
        (f"{_FAULT_T}test_a_rename_failing_mid_commit_never_leaves_a_lying_manifest",),
    ),
    Case(
        FAULTS,
        "Ctrl-C mid-build",
        "`interrupted`, exit 130, no traceback; finished packs complete, no temporary, the next "
        "build runs",
        (f"{_FAULT_T}test_ctrl_c_mid_build_keeps_finished_packs_and_leaves_no_temporary",),
    ),
    Case(
        FAULTS,
        "two builds racing on one `out/`",
        "both finish or one refuses (`<out> is in use by another build (pid N)`); files never "
        "interleave",
        (
            f"{_BUILD_T}test_two_racing_builds_never_interleave",
            f"{_BUILD_T}test_a_second_build_on_the_same_out_refuses",
        ),
    ),
    Case(
        FAULTS,
        "a renderer failing, or a worker dying, for one profile",
        "`FAILED <ID>: …`, exit 1; the other packs are built, the failed one keeps its earlier "
        "pack",
        (
            f"{_BUILD_T}test_a_failing_profile_is_reported_and_the_others_are_built",
            f"{_BUILD_T}test_a_crashed_worker_fails_only_its_profile",
        ),
    ),
    # --- the download page ------------------------------------------------------------------
    Case(
        WEB,
        "XSS strings in canon text (every string of the two tables above, on the list and the "
        "profile page), in roster names (the cycle pages) and in uploaded file names",
        "literal text: no `script`, `style`, `img`, `iframe` or `on…` attribute in the page, "
        "every link on the site; `{{ 7*7 }}` shows as typed",
        (
            f"{_WEB_T}test_hostile_canon_text_renders_literally_on_every_page",
            f"{_WEBC_T}test_roster_names_render_literally",
            f"{_WEBC_T}test_hr_uploads_returns_and_downloads_the_results",
        ),
    ),
    Case(
        WEB,
        "`..`, `%2e%2e`, `%2f`, `%00` and look-alike ids in every path parameter (profile id, "
        "file name, static file, cycle name, manager id, the returns pages), in a raw request "
        "line too",
        "404 before any file is touched (nothing built, nothing read): a cycle name must be a "
        "safe folder name holding a `cycle.json` that names it, a manager id one of its bundles",
        (
            f"{_WEB_T}test_path_parameters_outside_the_canon_are_404_before_any_file_is_touched",
            f"{_WEBC_T}test_path_parameters_outside_a_cycle_are_404",
            f"{_WEBC_T}test_dot_dot_in_the_returns_paths_is_404",
            f"{_WEBC_T}test_updating_a_cycle_needs_hr_csrf_a_bounded_body_and_a_good_roster",
            f"{_BROWSER_T}test_dot_dot_in_a_raw_request_line_is_404",
        ),
    ),
    Case(
        WEB,
        "a POST without its CSRF token, or with another one (login, logout, a roster, a new "
        "roster for a cycle, returned files)",
        "403 `This form has expired or did not come from this site.`; the session is unchanged, "
        "nothing stored",
        (
            f"{_WEB_T}test_every_post_needs_its_csrf_token",
            f"{_WEBC_T}test_a_cycle_upload_needs_hr_csrf_and_a_bounded_body",
            f"{_WEBC_T}test_updating_a_cycle_needs_hr_csrf_a_bounded_body_and_a_good_roster",
            f"{_WEBC_T}test_returned_uploads_need_csrf_and_a_bounded_body",
        ),
    ),
    Case(
        WEB,
        "oversize request body (declared or sent): a form over 64 KiB, a roster upload (new "
        "cycle or update) over 64 MiB + 64 KiB, returned files over 256 MiB in one upload",
        "413 `request body too large`; nothing stored",
        (
            f"{_WEB_T}test_an_oversize_request_body_is_413",
            f"{_WEBC_T}test_a_cycle_upload_needs_hr_csrf_and_a_bounded_body",
            f"{_WEBC_T}test_updating_a_cycle_needs_hr_csrf_a_bounded_body_and_a_good_roster",
            f"{_WEBC_T}test_returned_uploads_need_csrf_and_a_bounded_body",
        ),
    ),
    Case(
        WEB,
        "wrong password many times (one name, or many names from one address)",
        "401 `Wrong name or password.` (an unknown name alike), then 429 with `Retry-After`, "
        "the right password included, until the lock-out (doubling) ends",
        (
            f"{_WEB_T}test_wrong_passwords_many_times_lock_the_account_out",
            f"{_WEB_T}test_many_names_from_one_address_are_slowed_down_too",
            f"{_WEB_T}test_an_unknown_name_fails_like_a_wrong_password",
            f"{_BROWSER_T}test_wrong_passwords_in_the_browser_end_in_a_lock_out",
        ),
    ),
    Case(
        WEB,
        "a manager reaching for HR pages (`/download`, `/cycles/new`, `/cycles/<NAME>/roster`, "
        "`/cycles/<NAME>/returns`, `results.xlsx`)",
        "403 `This page is for HR accounts.`",
        (
            f"{_WEB_T}test_a_manager_sees_profiles_but_not_hr_pages",
            f"{_WEBC_T}test_a_cycle_upload_needs_hr_csrf_and_a_bounded_body",
            f"{_WEBC_T}test_updating_a_cycle_needs_hr_csrf_a_bounded_body_and_a_good_roster",
            f"{_WEBC_T}test_hr_uploads_returns_and_downloads_the_results",
            f"{_BROWSER_T}test_a_manager_sees_profiles_but_hr_pages_are_refused",
        ),
    ),
    Case(
        WEB,
        "a manager reaching for another manager's bundle, or for a cycle without their reports",
        "404 `No such bundle in this cycle.` / `No such cycle.`; their cycle page lists only "
        "their own reports (no other name or employee id) and their own bundle",
        (
            f"{_WEBC_T}test_a_manager_sees_only_their_reports_and_their_bundle",
            f"{_WEBC_T}test_another_manager_sees_only_theirs",
            f"{_WEBC_T}test_a_manager_without_reports_sees_no_cycle",
            f"{_BROWSER_T}test_a_manager_downloads_only_their_own_bundle",
        ),
    ),
    Case(
        WEB,
        "zip bomb upload (a returned .docx unpacking to more than 64 MiB); a .txt; the same "
        "bytes twice",
        "not stored, listed: `bomb.docx: file unpacks to more than 64 MiB; refusing it; not "
        "stored` (the harvest's package checks), `not a .docx or .xlsx file; not stored`, "
        "`uploaded before (the same bytes); not stored again`",
        (f"{_WEBC_T}test_hr_uploads_returns_and_downloads_the_results",),
    ),
    Case(
        WEB,
        "an uploaded file named `../../../escape.xlsx` or with markup",
        "stored as `returns/files/<32 hex>.xlsx` in the cycle (mode 0600), never under the "
        "client's name; shown (and listed in results.xlsx) as its last part, as text",
        (f"{_WEBC_T}test_hr_uploads_returns_and_downloads_the_results",),
    ),
    Case(
        WEB,
        "a roster with problems uploaded on `/cycles/new` (and an unsafe cycle name) or on "
        "`/cycles/<NAME>`",
        "400 listing every problem as `packs cycle` prints it (`--name: error: '../x' is not a "
        "safe folder name …`, `roster.csv:3: error: column 'profile': unknown profile …`, "
        "`4 problems found`), escaped; nothing built, the upload removed",
        (
            f"{_WEBC_T}test_roster_problems_are_shown_located_and_escaped",
            f"{_WEBC_T}test_updating_a_cycle_needs_hr_csrf_a_bounded_body_and_a_good_roster",
        ),
    ),
    Case(
        WEB,
        "a manager's bundle missing or stale, in a cycle whose `cycle.json` was edited by hand "
        "(an employee id `../../escaped`)",
        "500 `…: its cycle.json cannot be built again with this canon (column 'employee_id': "
        "'../../escaped' is not a safe file name …)`; nothing written, the cycle's roster "
        "checks run before `packs cycle`'s code is called",
        (f"{_WEBC_T}test_a_hand_edited_cycle_json_is_not_built_again",),
    ),
    Case(
        WEB,
        "a pack or a manager's bundle to build while another build holds its lock (`packs build` "
        "or `packs cycle` in a terminal)",
        "503 with `Retry-After: 5`, `Packs are being built by another process; try again "
        "shortly.` / `The cycle is being built; try again shortly.` (told by the lock's own "
        "error type, not its words); nothing written; served once the lock is free",
        (
            f"{_WEB_T}test_a_build_running_elsewhere_gives_503_with_retry_after",
            f"{_WEBC_T}test_a_bundle_of_a_cycle_built_elsewhere_is_busy_not_failed",
            f"{_WEBC_T}test_a_refresh_tells_busy_from_failed_by_the_locks_type_not_its_words",
        ),
    ),
    Case(
        WEB,
        "non-loopback start without users (`packs serve --host 0.0.0.0`)",
        "exit 2, `refusing to serve on 0.0.0.0 without --users FILE: …`, nothing listens",
        (f"{_WEB_T}test_a_non_loopback_start_without_users_is_refused",),
    ),
    Case(
        WEB,
        "another site's `Host` header on a loopback server without users (DNS rebinding)",
        "400",
        (f"{_WEB_T}test_a_loopback_server_without_users_refuses_other_host_names",),
    ),
    Case(
        WEB,
        "a login's `next` pointing off the site (`//attacker.example/x`)",
        "redirect to `/`",
        (f"{_WEB_T}test_a_login_redirect_never_leaves_the_site",),
    ),
    # --- properties -------------------------------------------------------------------------
    Case(
        PROPERTIES,
        "any Unicode text in every canon field kind",
        "TXT, JSON, DOCX and XLSX render, re-open and hold it verbatim inside its template line",
        (
            f"{_ANY_T}test_any_text_is_verbatim_in_every_office_format",
            "tests/test_properties.py::test_canon_text_round_trips_through_yaml",
        ),
    ),
    Case(
        PROPERTIES,
        "any text the handout's fonts cover (DejaVu Sans cmaps, minus what a text layer cannot "
        "give back one to one)",
        "the PDF renders with no WeasyPrint warning; its text layer holds it (white space "
        "normalised)",
        (f"{_ANY_T}test_any_covered_text_is_verbatim_in_the_pdf",),
    ),
    Case(
        PROPERTIES,
        "a character the fonts lack (漢, U+0F00)",
        "built, exit 0: the handout shows a .notdef box, its text layer keeps the character; "
        "DOCX, XLSX, TXT keep it; `packs build` prints `warning: <ID>: …` naming the character",
        (
            f"{_ANY_T}test_a_character_without_a_glyph_prints_a_box_and_keeps_its_text",
            f"{_ANY_T}test_office_formats_keep_uncovered_characters",
            f"{_ANY_T}test_the_build_warns_about_characters_without_a_glyph",
        ),
    ),
    Case(
        WORKBOOK,
        "a misspelt kind",
        "`roles.xlsx:Profiles!F14: error: kind: unknown kind 'responsibilty' (did you mean "
        "'responsibility'?) [kind]`",
        (f"{_X}test_every_bad_cell_is_located_at_once",),
    ),
    Case(
        WORKBOOK,
        "a formula cell (`=1+1`)",
        "`…!H15: error: a formula; canon cells hold text or numbers [formula]`; a text that "
        "only starts with `=`, `+`, `@` (`=HYPERLINK(…)`) is a string cell: imported as literal"
        " text and written back as a string cell, never a formula",
        (
            f"{_X}test_every_bad_cell_is_located_at_once",
            f"{_X}test_untrusted_text_lands_as_literal_text",
        ),
    ),
    Case(
        WORKBOOK,
        "markup and template text in a cell (`<script>`, `{{ 7*7 }}`)",
        "imported verbatim as literal text",
        (f"{_X}test_untrusted_text_lands_as_literal_text",),
    ),
    Case(
        WORKBOOK,
        "a control character in a cell (Excel's `_x0007_`)",
        "`…!H16: error: text: text contains the control character U+0007 at position 5, which "
        "no document format can carry [text]`",
        (f"{_X}test_every_bad_cell_is_located_at_once",),
    ),
    Case(
        WORKBOOK,
        "a repeated position, an unknown level, a bad track, an unsafe code (`../x`)",
        "each located at its cell, with a suggestion where one is close",
        (f"{_X}test_every_bad_cell_is_located_at_once",),
    ),
    Case(
        WORKBOOK,
        "merged cells",
        "`roles.xlsx:Profiles!B2:B4: error: merged cells; unmerge them so each row states its "
        "own values [merged]`",
        (f"{_X}test_merged_cells_and_a_hidden_sheet_are_refused",),
    ),
    Case(
        WORKBOOK,
        "a hidden canon sheet",
        "`roles.xlsx:Job descriptions: error: the sheet is hidden; show it (or delete it) so "
        "that what is imported is what you see [hidden]`",
        (f"{_X}test_merged_cells_and_a_hidden_sheet_are_refused",),
    ),
    Case(
        WORKBOOK,
        "a missing column",
        "`roles.xlsx:Profiles: error: missing column 'kind' (found: …; expected …) [header]`",
        (f"{_X}test_a_missing_column_names_the_headers_found",),
    ),
    Case(
        WORKBOOK,
        "a PDF, a broken zip or UTF-16 text renamed `.xlsx`; a zip that is not a workbook",
        "`roles.xlsx: error: not an .xlsx workbook (it is not a zip package) [workbook]` / `… "
        "(no xl/workbook.xml)`",
        (
            f"{_X}test_a_non_workbook_renamed_xlsx_is_refused",
            f"{_X}test_a_zip_that_is_not_a_workbook_is_refused",
        ),
    ),
    Case(
        WORKBOOK,
        "a CSV that is not UTF-8 beside a bad kind in a `;` CSV",
        "`levels.csv:2: error: not UTF-8 (byte 0xFF); save it as 'CSV UTF-8' in Excel "
        "[encoding]` and `profiles.csv:4: error: kind: unknown kind …`, together",
        (f"{_X}test_csv_problems_are_located_by_line",),
    ),
    Case(
        WORKBOOK,
        "a 100,000-row sheet",
        "read by streaming (lxml, elements cleared as read): peak RSS under 400 MB in its own "
        "process",
        (f"{_X}test_a_100000_row_sheet_is_read_in_bounded_memory",),
    ),
    Case(
        WORKBOOK,
        "an import that would change or remove existing canon",
        "lists `changed profile …`, `removed profile …`, `changed level …`, then `nothing "
        "written; pass --replace to apply it`; exit 1",
        (f"{_X}test_edits_are_listed_and_need_replace",),
    ),
    Case(
        GOAL_PAGE,
        "a page with no profile id (no --profile, no URL, no id in its file name)",
        "`page.txt: error: no profile id: pass --profile ID (…) [id]`",
        ("tests/test_goal_page.py::test_a_page_without_an_id_says_so",),
    ),
    Case(
        GOAL_PAGE,
        "an edited template line (`KR2. Evidence at the scope bar: …`)",
        "`page.txt:164: error: OKRs: this line does not come back from the imported canon (it "
        "would read '…') [page-verify]`",
        ("tests/test_goal_page.py::test_a_line_that_does_not_come_back_is_an_error",),
    ),
    Case(
        GOAL_PAGE,
        "a level whose dimension differs from levels.yaml",
        "`page.txt:N: error: level M4 scope: the page's 'A function or department' differs from"
        " 'A whole division' in canon/levels.yaml:48 [level-conflict]`",
        (
            "tests/test_goal_page.py::test_a_level_conflict_names_both_values",
            "tests/test_goal_page.py::test_a_page_for_another_level_is_checked_against_that_level",
        ),
    ),
    Case(
        GOAL_PAGE,
        "a page cut off mid-way",
        "imports what its complete blocks state; `warning: MBO areas: the page is cut off here,"
        " …` and `warning: the page has no copy block for Scorecard; …`; exit 0",
        ("tests/test_goal_page.py::test_a_page_cut_off_imports_its_complete_parts",),
    ),
    Case(
        ROSTER,
        "a required column missing",
        "`roster.csv:1: error: missing required column 'profile' (headers found: 'ID', "
        "'Surname'; also accepted: profile, profileid, jobprofile, …) [roster-column]`",
        ("tests/test_cycle_roster.py::test_missing_columns_name_the_headers_found",),
    ),
    Case(
        ROSTER,
        "a duplicate employee id",
        "both rows: `roster.csv:2: error: column 'employee_id': duplicate employee id 'E1' "
        "(also on line 3) [roster-duplicate]` and the same on line 3",
        ("tests/test_cycle_roster.py::test_every_problem_at_once",),
    ),
    Case(
        ROSTER,
        "an employee id that is not a safe file name (`../x`, `a/b`, `CON`, empty, 65 characters)",
        "`roster.csv:4: error: column 'employee_id': '../x' is not a safe file name (expected "
        "letters, digits, '.', '_' or '-', starting with a letter or digit, not a device name "
        "such as CON) [roster-id]`; `… empty (expected an employee id)`; `… employee id of 65 "
        "characters; at most 64`",
        ("tests/test_cycle_roster.py::test_every_problem_at_once",),
    ),
    Case(
        ROSTER,
        "an empty name",
        "`roster.csv:9: error: column 'name': empty [roster-name]`",
        ("tests/test_cycle_roster.py::test_every_problem_at_once",),
    ),
    Case(
        ROSTER,
        "an unknown profile",
        "`roster.csv:2: error: column 'profile': unknown profile 'ENGR.PLATFORM.P9' (did you "
        "mean ENGR.PLATFORM.P3?) [roster-profile]`",
        ("tests/test_cycle_roster.py::test_every_problem_at_once",),
    ),
    Case(
        ROSTER,
        "a manager_id naming no roster row",
        "`roster.csv:2: error: column 'manager_id': no roster row has employee id 'E9' "
        "[roster-manager]`",
        ("tests/test_cycle_roster.py::test_unknown_manager_and_loops",),
    ),
    Case(
        ROSTER,
        "a management loop (A → B → A, or A managing A)",
        "`roster.csv:3: error: column 'manager_id': management loop E1 -> E2 -> E1 "
        "[roster-loop]`, once per loop, at its first row",
        ("tests/test_cycle_roster.py::test_unknown_manager_and_loops",),
    ),
    Case(
        ROSTER,
        "a control character in any cell",
        "`roster.csv:10: error: column 'name': control character U+0007 [roster-control]`; the "
        "value is never printed",
        (
            "tests/test_cycle_roster.py::test_every_problem_at_once",
            "tests/test_cycle_roster.py::test_names_never_appear_in_messages",
        ),
    ),
    Case(
        ROSTER,
        "a bad or reversed period, an unsafe cycle name",
        "`--period: error: '2027-12-31/2027-01-01' ends before it starts (END must not precede "
        "START) [cycle-period]`; `--name: error: '../x' is not a safe folder name (…) "
        "[cycle-name]`; with the roster's problems",
        ("tests/test_cycle_build.py::test_bad_input_writes_nothing",),
    ),
    Case(
        ROSTER,
        "a binary file, a non-UTF-8 file",
        "`roster.csv: error: a binary file, not a CSV roster [roster-format]`; `roster.csv:2: "
        "error: not UTF-8 text (byte 0xe9); save the roster as CSV UTF-8 [roster-encoding]`",
        ("tests/test_cycle_roster.py::test_files_that_are_not_rosters",),
    ),
    Case(
        ROSTER,
        "a file over the size limit (64 MiB)",
        "`roster.csv: error: 67108865 bytes; a roster may have at most 64 MiB [roster-size]`, "
        "refused unread",
        ("tests/test_cycle_roster.py::test_a_file_over_the_limit_is_refused_unread",),
    ),
    Case(
        ROSTER,
        "an XLSX that is really something else",
        "`roster.xlsx: error: not an XLSX workbook (not a zip package: File is not a zip file) "
        "[roster-format]`",
        ("tests/test_cycle_roster.py::test_files_that_are_not_rosters",),
    ),
    Case(
        ROSTER,
        "names that are code (`=HYPERLINK(…)`, `<script>`, `{{ 7*7 }}`)",
        "valid; land as literal text in the form's fields, the tracker's Read me and "
        "cycle.json; read back unchanged",
        (
            "tests/test_cycle_build.py::test_every_form_and_tracker_is_personal",
            "tests/test_cycle_build.py::test_personalising_equals_a_full_render",
        ),
    ),
    Case(
        ROSTER,
        "a 100,000-row roster",
        "read in bounded memory (peak under 100 MB traced)",
        ("tests/test_cycle_roster.py::test_a_100000_row_roster_in_bounded_memory",),
    ),
    Case(
        ROSTER,
        "an identity edited in a returned file (another employee id typed in)",
        "read back, but its seal does not verify: `tampered`",
        ("tests/test_cycle_identity.py::test_an_edited_identity_is_not_believed",),
    ),
)

_HV_T = "tests/test_harvest.py::"
CASES += (
    Case(
        HARVEST,
        "a file that is not .docx or .xlsx (a .txt, a .pdf) in a returned folder",
        "`skipped`: `not a .docx or .xlsx file`",
        (f"{_HV_T}test_every_file_gets_a_verdict_and_values_are_typed",),
    ),
    Case(
        HARVEST,
        "a zip bomb, or a .xlsx that is no zip",
        "`unreadable`: `file unpacks to more than 64 MiB; refusing it` / `not a review form or "
        "tracker (not a zip package: …)`",
        (f"{_HV_T}test_every_file_gets_a_verdict_and_values_are_typed",),
    ),
    Case(
        HARVEST,
        "a .docx from elsewhere (no profile, no canon digest)",
        "`unknown`: `not a review pack file: it names no profile or canon digest`",
        (f"{_HV_T}test_every_file_gets_a_verdict_and_values_are_typed",),
    ),
    Case(
        HARVEST,
        "a form whose canon text was edited; one issued from another canon",
        "`tampered`: `canon text edited: paragraph N: canon text changed: …`; `stale`: `issued "
        "from canon sha256:… but <ID> is now sha256:…`; no values taken",
        (f"{_HV_T}test_every_file_gets_a_verdict_and_values_are_typed",),
    ),
    Case(
        HARVEST,
        "two returns for one profile and kind",
        "the newer by its `dcterms:modified` (else the file's mtime) is `ok` and taken; the "
        "other `duplicate`, naming the conflicting fields (`mbo.1 Target: 'new' vs 'old'`)",
        (f"{_HV_T}test_two_returns_for_one_profile",),
    ),
    Case(
        HARVEST,
        "cycle mode: a file of another cycle, one whose seal was forged, one with no identity",
        "`unknown`: `from cycle '2026-annual', not '2027-annual'` / `no cycle identity: not a "
        "file of this cycle`; `tampered`: `its identity does not verify (the seal was edited)`; "
        "a file is matched by its sealed employee id, never its file name",
        (f"{_HV_T}test_cycle_mode_matches_by_sealed_identity",),
    ),
    Case(
        HARVEST,
        "a filled value that is a formula (`=HYPERLINK(…)`)",
        "a string cell in results.xlsx, never a formula; in the CSVs prefixed with `'` (a "
        "leading `=`, `+`, `-`, `@`, tab or CR, as OWASP recommends)",
        (
            f"{_HV_T}test_every_file_gets_a_verdict_and_values_are_typed",
            f"{_HV_T}test_csv_export",
        ),
    ),
)


def cases(family: str) -> tuple[Case, ...]:
    return tuple(c for c in CASES if c.family == family)
