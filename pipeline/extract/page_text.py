"""A page to import, as text and as numbered lines (`packs import-jd`, `packs import-page`).

Bytes are decoded by `decode_page` (UTF-8 only; binary, UTF-16 and empty pages refused, a page
cut off inside a character keeps its complete part), `looks_like_html` tells a saved HTML page
from a text one, and `text_lines` / `html_lines` reduce either kind to the same numbered lines (an
HTML page by the standard library's parser: scripts and styles dropped, entities decoded, nothing
fetched), each with what the markup said about it (`Hint`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from html.parser import HTMLParser

from pipeline.diagnostics import CanonError, Collector, Problem, Severity

#: Larger pages are refused before reading (a job-description page is about 13 kB).
MAX_PAGE_BYTES = 2 * 1024 * 1024


class Hint(Enum):
    """What the markup said about a line (HTML only); plain text lines carry NONE."""

    NONE = "none"
    BULLET = "bullet"
    HEADING = "heading"


@dataclass(frozen=True)
class PageLine:
    number: int
    text: str
    hint: Hint = Hint.NONE


def text_lines(text: str) -> list[PageLine]:
    """The numbered non-blank lines of a plain-text page (CRLF and CR line ends accepted)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return [PageLine(n, raw.strip()) for n, raw in enumerate(lines, 1) if raw.strip()]


_HEADING_TAGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
#: Elements that end a line of text, as a browser's block layout would.
_BLOCK_TAGS = _HEADING_TAGS | {
    "address", "article", "aside", "blockquote", "body", "br", "dd", "details", "dialog", "div",
    "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "header", "hgroup", "hr",
    "html", "li", "main", "nav", "ol", "p", "pre", "section", "summary", "table", "tbody", "td",
    "tfoot", "th", "thead", "tr", "ul",
}  # fmt: skip
#: Elements whose content is never page text.
_IGNORED_TAGS = frozenset({
    "script", "style", "template", "noscript", "title", "head", "svg", "math", "iframe",
    "object", "select", "textarea",
})  # fmt: skip
_HTML_SPACE = re.compile(r"[ \t\n\r\f]+")


class _PageHTML(HTMLParser):
    """Saved HTML -> the same numbered lines a text page gives; block elements end lines."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[PageLine] = []
        self._parts: list[str] = []
        self._number = 0
        self._ignored: list[str] = []
        self._heading_depth = 0
        self._in_heading = False
        self._bullet = False
        self._pre_depth = 0

    def _flush(self) -> None:
        text = _HTML_SPACE.sub(" ", "".join(self._parts)).strip(" ")
        self._parts = []
        if text:
            hint = Hint.HEADING if self._in_heading else Hint.BULLET if self._bullet else Hint.NONE
            self.lines.append(PageLine(self._number, text, hint))
            self._bullet = False
        self._in_heading = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "body":
            self._ignored.clear()  # an unclosed <head> ends where <body> starts
        if self._ignored or tag in _IGNORED_TAGS:
            if tag in _IGNORED_TAGS:
                self._ignored.append(tag)
            return
        if tag in _BLOCK_TAGS:
            self._flush()
        if tag == "li":
            self._bullet = True
        elif tag in _HEADING_TAGS:
            self._heading_depth += 1
        elif tag == "pre":
            self._pre_depth += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if not self._ignored and tag in _BLOCK_TAGS:
            self._flush()

    def handle_endtag(self, tag: str) -> None:
        if self._ignored:
            if tag in self._ignored:
                while self._ignored.pop() != tag:
                    pass
            return
        if tag in _BLOCK_TAGS:
            self._flush()
        if tag == "li":
            self._bullet = False
        elif tag in _HEADING_TAGS:
            self._heading_depth = max(0, self._heading_depth - 1)
        elif tag == "pre":
            self._pre_depth = max(0, self._pre_depth - 1)

    def handle_data(self, data: str) -> None:
        if self._ignored:
            return
        line = self.getpos()[0]
        chunks = data.split("\n") if self._pre_depth else [data]
        for i, chunk in enumerate(chunks):
            if i:
                self._flush()
                line += 1
            if not chunk.strip(" \t\r\f\n"):
                if not self._pre_depth:
                    line += chunk.count("\n")
                self._parts.append(chunk)
                continue
            if not "".join(self._parts).strip(" \t\r\f\n"):
                lead = len(chunk) - len(chunk.lstrip(" \t\r\f\n"))
                self._number = line + chunk[:lead].count("\n")
            if self._heading_depth:
                self._in_heading = True
            self._parts.append(chunk)
            if not self._pre_depth:
                line += chunk.count("\n")

    def close(self) -> None:
        super().close()
        self._flush()


def html_lines(text: str) -> list[PageLine]:
    """The numbered text lines of a saved HTML page (never fetches anything it references)."""
    parser = _PageHTML()
    parser.feed(text)
    parser.close()
    return parser.lines


def looks_like_html(text: str, name: str = "") -> bool:
    if name.lower().endswith((".html", ".htm", ".xhtml")):
        return True
    head = text[:1024].lstrip().lower()
    return head.startswith(("<!doctype html", "<html", "<?xml")) or "<body" in head


def decode_page(data: bytes, display: str) -> tuple[str, tuple[Problem, ...]]:
    """Bytes -> text, refusing what is not a UTF-8 text page (binary, empty, other encodings).

    A page cut off inside a multi-byte character keeps its complete part, with a warning.
    """
    problems = Collector()
    notes: list[Problem] = []
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        problems.error(display, 1, "the page is UTF-16; save it as UTF-8", "encoding")
    elif b"\x00" in data:
        at = data.index(b"\x00")
        problems.error(
            display,
            data[:at].count(b"\n") + 1,
            f"binary file (NUL byte at offset {at}); expected a text or HTML page",
            "binary",
        )
    problems.raise_if_any("not a text page")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.end == len(data) and exc.reason == "unexpected end of data":
            text = data[: exc.start].decode("utf-8")
            notes.append(
                Problem(
                    display,
                    text.count("\n") + 1,
                    "the page ends inside a character (it was cut off); the incomplete "
                    "character was left out",
                    "jd-cut",
                    Severity.WARNING,
                )
            )
        else:
            line = data[: exc.start].count(b"\n") + 1
            message = (
                f"invalid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
                "expected a text or HTML page saved as UTF-8"
            )
            problem = Problem(display, line, message, "encoding")
            raise CanonError("not a text page", [problem]) from None
    text = text.removeprefix("\ufeff")
    if not text.strip():
        problems.error(display, 1, "the page is empty", "jd-empty")
        problems.raise_if_any("nothing to import")
    return text, tuple(notes)
