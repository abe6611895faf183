"""The handout's user-agent stylesheet: WeasyPrint's HTML defaults, cut to what the layout uses.

WeasyPrint styles every document with its HTML user-agent stylesheet (`html5_ua.css`) before the
layout's own. Most of its rules are for elements a handout never has (forms, `pre`, `dd` ...),
and a few cost on every element: `::footnote-call`, `::footnote-marker`, `::note-call`,
`::note-marker` and `::note-callback` name no element, so WeasyPrint computes those five
pseudo-element styles for every element of the document, about 2,000 of a handout's 2,600
computed styles. A layout may name a cut-down copy (`handout.user_agent_stylesheet` in
`layout.yaml`), which WeasyPrint then uses instead; the default layout's is `user-agent.css`,
and tests/test_pdf.py checks it gives every bundled handout the same bytes as WeasyPrint's own.

A cut-down sheet must not silently lose an element's defaults when the template starts writing
that element (a `<strong>` would print in the regular face). So the layout's sheet is compared
with WeasyPrint's once per process (`UserAgent.load`), and every handout is checked (`check`):
an element that one of WeasyPrint's rules names, where the layout's sheet lacks that rule word for
word, is a layout error that says which element and what to do. Rules that need an attribute
(`[hidden]`, `[dir=rtl i] ...`) are exempt: the template decides which attributes it writes.
Likewise, the layout's stylesheet may style only page-margin boxes (`@top-left` ...) that the
user-agent sheet's @page has: they get their alignment there.
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import tinycss2
from cssselect2 import parser
from weasyprint import CSS
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher

from pipeline.diagnostics import PacksError


@dataclass(frozen=True)
class Rule:
    """One selector of a style rule, with the rule's declarations (whitespace normalised)."""

    selector: str
    declarations: str
    #: Element names the selector names anywhere (lower case).
    names: frozenset[str]
    #: Whether it applies only to elements with some attribute (`[hidden]`, `[dir=rtl i]` ...).
    conditional: bool


def rules(css: str) -> tuple[Rule, ...]:
    """Every selector of every style rule of the stylesheet, in order."""
    found = []
    for rule in tinycss2.parse_stylesheet(css, skip_comments=True, skip_whitespace=True):
        if rule.type != "qualified-rule":
            continue
        declarations = _normal(rule.content)
        for selector in _split_at_commas(rule.prelude):
            try:
                parsed = list(parser.parse(selector))
            except parser.SelectorError:
                continue  # WeasyPrint skips it too
            names: set[str] = set()
            conditional = _collect(parsed, names)
            found.append(Rule(_normal(selector), declarations, frozenset(names), conditional))
    return tuple(found)


def _split_at_commas(prelude: list[Any]) -> list[list[Any]]:
    """A selector list's selectors (commas inside `:is(...)` are inside a function token)."""
    selectors: list[list[Any]] = [[]]
    for token in prelude:
        if token.type == "literal" and token.value == ",":
            selectors.append([])
        else:
            selectors[-1].append(token)
    return selectors


def unstyled(layout_css: str, weasyprint_css: str) -> frozenset[str]:
    """Elements for which WeasyPrint's sheet has a rule the layout's does not have word for
    word, leaving out rules that need an attribute (the template decides which it writes)."""
    kept = {(rule.selector, rule.declarations) for rule in rules(layout_css)}
    return frozenset(
        name
        for rule in rules(weasyprint_css)
        if not rule.conditional and (rule.selector, rule.declarations) not in kept
        for name in rule.names
    )


def margin_boxes(css: str) -> frozenset[str]:
    """The page-margin boxes the stylesheet's @page rules style, as at-rules (`@top-left`)."""
    boxes = set()
    for rule in tinycss2.parse_stylesheet(css, skip_comments=True, skip_whitespace=True):
        if rule.type == "at-rule" and rule.lower_at_keyword == "page" and rule.content:
            for item in tinycss2.parse_blocks_contents(
                rule.content, skip_comments=True, skip_whitespace=True
            ):
                if item.type == "at-rule":
                    boxes.add(f"@{item.lower_at_keyword}")
    return frozenset(boxes)


def _normal(tokens: Iterable[Any]) -> str:
    return " ".join(tinycss2.serialize(tokens).split())


def _collect(node: Any, names: set[str]) -> bool:
    """Add the element names in a parsed selector to `names`; whether it has an attribute
    selector. Walks cssselect2's selector objects, whatever their attributes are called."""
    if isinstance(node, parser.LocalNameSelector):
        names.add(node.lower_local_name)
        return False
    if isinstance(node, parser.AttributeSelector):
        return True
    if isinstance(node, (list, tuple)):
        children: Iterable[Any] = node
    elif hasattr(node, "__dict__"):
        children = vars(node).values()
    else:
        return False
    conditional = False
    for child in children:
        conditional = _collect(child, names) or conditional
    return conditional


def weasyprint_rules() -> str:
    """The text of WeasyPrint's own HTML user-agent stylesheet."""
    return (importlib.resources.files("weasyprint.css") / "html5_ua.css").read_text("utf-8")


@dataclass(frozen=True)
class UserAgent:
    """A layout's user-agent stylesheet, parsed, and the elements it leaves unstyled."""

    path: Path
    sheet: CSS
    #: Elements with a rule in WeasyPrint's sheet that is not in this one (`unstyled`): a
    #: handout must not have them.
    unstyled: frozenset[str]

    @classmethod
    def load(
        cls, path: Path, stylesheet: Path, fetcher: URLFetcher, fonts: FontConfiguration
    ) -> UserAgent:
        """The sheet at `path`, for a handout styled by `stylesheet`; a layout error if that
        styles a page-margin box this sheet leaves out (it would lose its alignment)."""
        try:
            text = path.read_text("utf-8")
            styled = stylesheet.read_text("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise PacksError(
                f"{exc.filename if isinstance(exc, OSError) else path}: cannot read the handout's "
                f"stylesheets (layout.yaml handout.stylesheet, user_agent_stylesheet): {exc}"
            ) from None
        boxes = margin_boxes(styled) - margin_boxes(text)
        if boxes:
            raise PacksError(
                f"{stylesheet}: styles the page-margin boxes {', '.join(sorted(boxes))}, which "
                f"{path.name} (the layout's user-agent stylesheet) leaves out; copy their rules "
                f"in @page from WeasyPrint's html5_ua.css into {path}"
            )
        sheet = CSS(string=text, base_url=path.as_uri(), url_fetcher=fetcher, font_config=fonts)
        return cls(path, sheet, unstyled(text, weasyprint_rules()))

    def check(self, root: ElementTree.Element, template: str) -> None:
        """A layout error if the handout has an element this sheet leaves unstyled."""
        found = sorted(self.unstyled.intersection(_tags(root.iter())))
        if found:
            elements = ", ".join(f"<{name}>" for name in found)
            raise PacksError(
                f"{template}: writes {elements}, which {self.path.name} (the layout's "
                "user-agent stylesheet) does not style; copy the rules that name "
                f"{'it' if len(found) == 1 else 'them'} from WeasyPrint's html5_ua.css into "
                f"{self.path}, or drop handout.user_agent_stylesheet from layout.yaml"
            )


def _tags(elements: Iterable[ElementTree.Element]) -> set[str]:
    return {element.tag.lower() for element in elements if isinstance(element.tag, str)}
