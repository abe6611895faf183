"""The PDF handout: frames -> HTML (Jinja2 template of the layout) -> PDF (WeasyPrint).

Presentation is the layout's files (`handout.html.j2`, `handout.css`, `layout.yaml` section
`handout`); this module only groups blocks by how they are drawn (by block type and record
style, never by frame kind), fixes everything that would make bytes vary (dates), and keeps
WeasyPrint from fetching anything outside the layout folder: canon text is untrusted.

The PDF has no /ID: pydyf computes one by serialising (and compressing) every object a second
time, about 6 % of a render, and without it nothing in the file varies between runs either.

A layout whose template renders well-formed XHTML says so (`handout.markup: xhtml`); its markup
is then parsed by expat instead of WeasyPrint's pure-Python HTML5 parser: 0.5 ms instead of about
20 ms for a 30 kB handout, 4-5 % of a render, for the same tree and the same PDF bytes.
A layout may also replace WeasyPrint's HTML user-agent stylesheet with a cut-down copy
(`handout.user_agent_stylesheet`, see `user_agent`), for another 4-5 %.
WeasyPrint 70's costs are worked around by the speed-ups of `weasyprint70` (its docstring lists
them, the switch, and every private touch point), put in place around each render only
(`RenderOptions.speedups`). None changes a byte; tests/test_pdf.py renders with and without each.
The finisher (`pdf_finish`) corrects WeasyPrint's tag tree (`join_pieces`, `retag`, `word_breaks`;
tests/test_pdf_tags.py) before it compresses the streams (`flate`).
"""

from __future__ import annotations

import re
import unicodedata
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, assert_never
from urllib.parse import urljoin, urlsplit
from urllib.request import url2pathname

# The speed-ups package imports WeasyPrint first (its libraries looked up in the linker cache).
from pipeline.render import weasyprint70  # isort: skip
import cssselect2
import jinja2
from markupsafe import Markup, escape
from weasyprint import CSS, HTML, Attachment
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher, URLFetcherResponse

from pipeline.diagnostics import PacksError
from pipeline.layout import HandoutSettings, Layout, RenderOptions
from pipeline.model import (
    Block,
    Field,
    Frame,
    Group,
    Line,
    Placeholder,
    ProfileFrames,
    Record,
    RecordStyle,
    Segment,
    Text,
    line_text,
    only_placeholders,
    placeholders,
)
from pipeline.ooxml.archive import iso_utc, utc_moment
from pipeline.render.pdf_finish import finish
from pipeline.render.to_json import frames_json
from pipeline.render.user_agent import UserAgent

PartLayout = Literal["goal", "results", "table", "group"]

#: The frames JSON travels inside the PDF under this name.
ATTACHMENT_NAME = "frames.json"
#: An invisible break opportunity: Pango wraps there and draws no glyph, so extracted text
#: (pdftotext, pypdf) keeps the word whole.
ZWSP = "\u200b"
#: How the template's output is parsed (`handout.markup`, optional): WeasyPrint's HTML5 parser,
#: or expat for a template that renders well-formed XHTML (every element closed: `<meta ... />`).
XHTML_NAMESPACE = "{http://www.w3.org/1999/xhtml}"


def part_layout(block: Block) -> PartLayout:
    """How a block is drawn; the only place the handout looks at block types."""
    match block:
        case Record():
            match block.style:
                case RecordStyle.GOAL:
                    return "goal"
                case RecordStyle.RESULTS:
                    return "results"
                case RecordStyle.AREA:
                    return "table"
                case _:
                    assert_never(block.style)
        case Group():
            return "group"
        case _:
            assert_never(block)


@dataclass(frozen=True)
class Part:
    """Consecutive blocks drawn alike (consecutive area records make one table).

    `shared` are the fields that every record of the part has word for word, with nothing to
    fill in (a SMART goal's "Achievable" quotes the level's rubric in every goal): the template
    may print them once, before the records, instead of once per record. A field that one record
    lacks, words differently or carries a placeholder in is never shared, so a record's own
    fill-in slots stay with it and nothing is attached to a record that does not have it.
    """

    layout: PartLayout
    blocks: tuple[Block, ...]
    shared: tuple[Field, ...] = ()

    def own_fields(self, record: Record) -> tuple[Field, ...]:
        """The fields of `record` that are not shared, in their order."""
        labels = {f.label for f in self.shared}
        return tuple(f for f in record.fields if f.label not in labels)

    def quotes_heading(self, record: Record) -> bool:
        """True if a field printed with `record` quotes its heading in full, in double quotes
        (a SMART goal's Specific line, Deliver: "<heading>"; an objective's KR1, tied to:
        "<heading>"). The template then prints the heading's number and source label without
        its words, which follow below."""
        quoted = f'"{record.heading}"'
        return any(quoted in line_text(f.line) for f in self.own_fields(record))

    def columns(self, frame: Frame) -> tuple[str, ...]:
        """The table columns left once shared fields are printed above the table."""
        labels = {f.label for f in self.shared}
        return frame.columns[:1] + tuple(c for c in frame.columns[1:] if c not in labels)

    def fill_column(self, column: str) -> bool:
        """True if every cell under `column` holds only placeholders (a narrow fill-in column)."""
        lines = [
            next((f.line for f in block.fields if f.label == column), ())
            for block in self.blocks
            if isinstance(block, Record)
        ]
        return bool(lines) and all(only_placeholders(line) for line in lines)


def shared_fields(blocks: tuple[Block, ...]) -> tuple[Field, ...]:
    """The fields every record of `blocks` has with the same label and the same words, in the
    first record's order; none for fewer than two records, for groups, or for any line that
    holds a placeholder."""
    records = [b for b in blocks if isinstance(b, Record)]
    if len(records) < 2 or len(records) != len(blocks):
        return ()

    def lines(record: Record, label: str) -> list[Line]:
        return [f.line for f in record.fields if f.label == label]

    return tuple(
        field
        for field in records[0].fields
        if not placeholders(field.line)
        and all(lines(record, field.label) == [field.line] for record in records)
    )


@dataclass(frozen=True)
class Mark:
    """A run of a line printed as one fill-in mark: placeholders, and the short template words
    joining them ("⟨baseline⟩ to ⟨target⟩ by ⟨date⟩")."""

    parts: tuple[Text | Placeholder, ...]

    @property
    def text(self) -> str:
        return line_text(self.parts)


def marked(line: Line, join: int) -> tuple[Text | Mark, ...]:
    """`line` as plain text and fill-in marks, for the template's `line` macro.

    Placeholders next to each other, or joined by a template text of at most `join` characters,
    make one mark: every mark is an inline box, and each box costs WeasyPrint a text layout, so
    "from ⟨baseline⟩ to ⟨target⟩ by ⟨date⟩" is 2 boxes, not 6. The text is unchanged.
    """
    out: list[Text | Mark] = []
    for segment in line:
        if isinstance(segment, Placeholder):
            last = out[-1] if out else None
            if isinstance(last, Mark):
                out[-1] = Mark((*last.parts, segment))
            elif len(out) >= 2 and isinstance(mark := out[-2], Mark) and len(out[-1].text) <= join:
                joiner = out.pop()
                assert isinstance(joiner, Text)
                out[-1] = Mark((*mark.parts, joiner, segment))
            else:
                out.append(Mark((segment,)))
        else:
            out.append(Text(segment.text))
    return tuple(out)


@dataclass(frozen=True)
class Section:
    """One frame as the template sees it."""

    frame: Frame
    anchor: str
    parts: tuple[Part, ...]

    def cell(self, record: Record, column: str) -> tuple[Segment, ...]:
        """The line of `record` under table column `column` (matched by field label)."""
        field: Field | None = next((f for f in record.fields if f.label == column), None)
        return field.line if field is not None else ()


def sections(frames: ProfileFrames) -> tuple[Section, ...]:
    out = []
    for index, frame in enumerate(frames.frames, 1):
        runs: list[tuple[PartLayout, tuple[Block, ...]]] = []
        for block in frame.blocks:
            layout = part_layout(block)
            if layout == "table":
                check_columns(frame, block)
            if runs and runs[-1][0] == layout:
                runs[-1] = (layout, (*runs[-1][1], block))
            else:
                runs.append((layout, (block,)))
        parts = tuple(Part(layout, blocks, shared_fields(blocks)) for layout, blocks in runs)
        out.append(Section(frame, f"frame-{index}", parts))
    return tuple(out)


def check_columns(frame: Frame, block: Block) -> None:
    """A table draws only `frame.columns`: a field without a column would vanish, so refuse."""
    assert isinstance(block, Record)
    lost = [f.label for f in block.fields if f.label not in frame.columns[1:]]
    if not frame.columns or lost:
        raise ValueError(
            f"frame {frame.title!r}: record {block.key} has fields {lost} that none of the "
            f"table columns {frame.columns} shows"
        )


def breaker(longest: int) -> Callable[[object], str]:
    """The template filter `breakable`: break points inside runs longer than `longest` characters.

    A word wider than its line runs off the page. CSS `overflow-wrap` wraps it, but WeasyPrint
    then lays the rest of the paragraph out again for every line: 20 s or more for a
    10,000-character token, and a little slower for every document. A zero-width space every
    `longest` characters gives the line breaker ordinary break points instead, at no cost to
    text without long runs. No break goes before a combining mark or next to a joiner.
    """
    run = re.compile(rf"\S{{{longest + 1},}}")

    def split(match: re.Match[str]) -> str:
        word = match.group()
        out: list[str] = []
        start = 0
        for index in range(longest, len(word), longest):
            if _joined(word[index - 1], word[index]):
                continue
            out.append(word[start:index])
            start = index
        out.append(word[start:])
        return ZWSP.join(out)

    def breakable(text: object) -> str:
        return run.sub(split, str(text))

    return breakable


def _joined(before: str, after: str) -> bool:
    """True where a break would split a grapheme (a mark, a joiner or a variation selector)."""
    return (
        unicodedata.category(after).startswith("M")
        or "\u200d" in (before, after)
        or "\ufe00" <= after <= "\ufe0f"
    )


class LayoutFetcher(URLFetcher):  # type: ignore[misc]
    """Fetches only files inside the layout folder; refuses every other URL (http, data, /etc)."""

    def __init__(self, root: Path) -> None:
        super().__init__(allowed_protocols=("file",))
        self.root = root.resolve()

    def fetch(self, url: str, headers: Mapping[str, str] | None = None) -> URLFetcherResponse:
        parts = urlsplit(url)
        if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
            raise ValueError(f"handout may not fetch {url!r}: only files of the layout folder")
        path = Path(url2pathname(parts.path)).resolve()
        if not path.is_relative_to(self.root) or not path.is_file():
            raise ValueError(f"handout may not fetch {url!r}: outside the layout folder")
        return URLFetcherResponse(path.as_uri(), path.read_bytes())


@dataclass(frozen=True)
class Typesetter:
    """Per-process state for one layout and page size: parsed CSS, fonts, template, fetcher."""

    template: jinja2.Template
    stylesheets: tuple[CSS, ...]
    fonts: FontConfiguration
    fetcher: LayoutFetcher
    base_url: str
    settings: HandoutSettings
    markup: str = "html"
    #: The layout's user-agent stylesheet (`handout.user_agent_stylesheet`), else WeasyPrint's.
    user_agent: UserAgent | None = None


#: (layout root, page size) -> Typesetter; filled on first use in each process.
_TYPESETTERS: dict[tuple[Path, str], Typesetter] = {}


def typesetter(layout: Layout, page_size: str) -> Typesetter:
    """Parse the template and CSS once per process (per layout folder and page size; again if
    the layout's handout settings differ from those it was built with)."""
    key = (layout.root, page_size)
    cached = _TYPESETTERS.get(key)
    if cached is None or cached.settings != layout.config.handout:
        cached = _TYPESETTERS[key] = _typesetter(layout, page_size)
    return cached


def _typesetter(layout: Layout, page_size: str) -> Typesetter:
    conf = layout.config.handout
    sizes = conf.page_sizes
    if page_size not in sizes:
        raise PacksError(
            f"{layout.root / 'layout.yaml'}: handout.page_sizes has no size '{page_size}' "
            f"(known: {', '.join(sizes)})"
        )
    fetcher = LayoutFetcher(layout.root)
    fonts = FontConfiguration()
    stylesheet = layout.path(conf.stylesheet)
    user_agent = None
    if conf.user_agent_stylesheet is not None:
        path = layout.path(conf.user_agent_stylesheet)
        user_agent = UserAgent.load(path, stylesheet, fetcher, fonts)
        weasyprint70.user_agent_override_applies()  # says so once if WeasyPrint changed it
    stylesheets = (
        CSS(filename=str(stylesheet), url_fetcher=fetcher, font_config=fonts),
        CSS(string=f"@page {{ size: {sizes[page_size]} }}", font_config=fonts),
    )
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(layout.root)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        finalize=_finalize,
    )
    env.filters["breakable"] = breaker(conf.long_word)
    env.filters["marked"] = lambda line: marked(line, conf.mark_join)
    env.tests["mark"] = lambda s: isinstance(s, Mark)
    env.tests["placeholder"] = lambda s: isinstance(s, Placeholder)
    template = env.get_template(conf.template)
    base_url = layout.root.as_uri() + "/"
    return Typesetter(
        template, stylesheets, fonts, fetcher, base_url, conf, conf.markup, user_agent
    )


#: Line breaks and tabs in printed values, as character references (a CR, alone or before LF,
#: is a line feed, as an HTML parser reads it).
_WHITESPACE_REFERENCES = (("\r\n", "&#10;"), ("\r", "&#10;"), ("\n", "&#10;"), ("\t", "&#9;"))


def _finalize(value: object) -> object:
    """Every `{{ value }}` of the template: escaped, and line breaks and tabs as references.

    An XML parser turns a line break inside an attribute value (`<meta content="...">`) into a
    space, an HTML parser keeps it; written as `&#10;`, both keep it, and in text both read it
    as the character itself. So the HTML and XHTML readings of a handout agree for any canon
    text. Markup (a macro's output) is left as it is.
    """
    if isinstance(value, Markup):
        return value
    text = str(escape(value))
    if "\r" in text or "\n" in text or "\t" in text:
        for plain, reference in _WHITESPACE_REFERENCES:
            text = text.replace(plain, reference)
    return Markup(text)  # escaped just above


def html(frames: ProfileFrames, typeset: Typesetter, options: RenderOptions) -> str:
    """The handout as HTML, before WeasyPrint: a readable dump for tests and debugging."""
    conf = typeset.settings
    return typeset.template.render(
        frames=frames,
        sections=sections(frames),
        language=conf.language,
        author=conf.author,
        generator=options.generator,
        timestamp=iso_utc(options.timestamp or 0),
    )


class HandoutHTML(HTML):  # type: ignore[misc]
    """A WeasyPrint HTML document styled first by the layout's user-agent stylesheet, if any."""

    user_agent: CSS | None = None

    def _ua_stylesheets(self, forms: bool = False) -> list[CSS]:
        if self.user_agent is None or forms:
            return super()._ua_stylesheets(forms)  # type: ignore[no-any-return]
        return [self.user_agent]


class XhtmlDocument(HandoutHTML):
    """A WeasyPrint HTML document from a tree parsed as XHTML (see `parse_xhtml`).

    Sets what `HTML.__init__` sets once tinyhtml5 has parsed (WeasyPrint 70). For markup that is
    well-formed and relies on no HTML-only parsing rule (implied or misnested elements), the tree
    and so the PDF are the same byte for byte; tests/test_pdf.py checks that for every bundled
    profile and for arbitrary canon text, which also catches a WeasyPrint that sets more.
    """

    def __init__(self, root: ElementTree.Element, base_url: str, url_fetcher: URLFetcher) -> None:
        base = next(root.iter("base"), None)
        href = "" if base is None else base.get("href", "").strip()
        self.base_url = urljoin(base_url, href) if href else base_url
        self.url_fetcher = url_fetcher
        self.media_type = "print"
        self.wrapper_element = cssselect2.ElementWrapper.from_html_root(root, content_language=None)
        self.etree_element = self.wrapper_element.etree_element


def parse_xhtml(markup: str, template: str) -> ElementTree.Element:
    """The template's output as an element tree, by expat; a layout error if not well-formed.

    Canon text cannot make it malformed (the template escapes every value), so an error here
    is the template's, and names it.
    """
    parser = ElementTree.XMLParser()
    try:
        parser.feed(markup)
        root = parser.close()
    except ElementTree.ParseError as exc:
        line, column = exc.position
        lines = markup.splitlines()
        text = lines[line - 1].strip() if 0 < line <= len(lines) else ""
        reason = str(exc).split(":", 1)[0]
        raise PacksError(
            f"{template}: renders markup that is not well-formed XHTML: {reason} at line {line}, "
            f"column {column + 1} of the markup ({text[:80]!r}); close every element, void ones "
            "too (<meta ... />), or set handout.markup: html in layout.yaml"
        ) from None
    if root.tag.startswith(XHTML_NAMESPACE):
        for element in root.iter():
            if isinstance(element.tag, str) and element.tag.startswith(XHTML_NAMESPACE):
                element.tag = element.tag[len(XHTML_NAMESPACE) :]
    return root


def document(frames: ProfileFrames, typeset: Typesetter, options: RenderOptions) -> HTML:
    """The handout's HTML document, parsed as the layout says (`handout.markup`), styled by the
    layout's user-agent stylesheet if it has one."""
    markup = html(frames, typeset, options)
    template = typeset.template.filename or str(typeset.template.name)
    handout: HandoutHTML
    if typeset.markup == "xhtml":
        handout = XhtmlDocument(parse_xhtml(markup, template), typeset.base_url, typeset.fetcher)
    else:
        handout = HandoutHTML(string=markup, base_url=typeset.base_url, url_fetcher=typeset.fetcher)
    if typeset.user_agent is not None:
        typeset.user_agent.check(handout.etree_element, template)
        handout.user_agent = typeset.user_agent.sheet
    return handout


def render(frames: ProfileFrames, layout: Layout, options: RenderOptions) -> bytes:
    typeset = typesetter(layout, options.page_size)
    when = utc_moment(options.timestamp or 0)
    attachment = Attachment(
        string=frames_json(frames),
        name=ATTACHMENT_NAME,
        description=f"Frames of {frames.profile_id} as JSON",
        created=when,
        modified=when,
        relationship="Data",
        url_fetcher=typeset.fetcher,
    )
    handout = document(frames, typeset, options)
    link_contents = {s.anchor: s.frame.title for s in sections(frames)}
    variant = typeset.settings.pdf_variant
    if variant is not None and variant.startswith("pdf/ua") and not weasyprint70.fixes_apply():
        variant = None  # the tag tree would be WeasyPrint 70's own (said once, StaleSpeedUp)
    with weasyprint70.patched(options.speedups):
        pdf: bytes = handout.write_pdf(
            stylesheets=list(typeset.stylesheets),
            font_config=typeset.fonts,
            attachments=[attachment],
            pdf_tags=True,
            pdf_variant=variant,
            custom_metadata=True,
            # Without a variant WeasyPrint 70 leaves the version unset and then tags as for PDF
            # 2.0 (a /Namespaces entry: `str(None) >= "2.0"`) in a file it heads %PDF-1.7.
            pdf_version=None if variant else "1.7",
            finisher=lambda document, pdf: finish(document, pdf, link_contents),
        )
    return pdf
