"""The handout's contents page numbers: page 1 laid out once, not three times (WeasyPrint 70).

The handout's contents print each frame's page with `target-counter(attr(href), page)`. WeasyPrint
lays a page holding such a lookup out once before the targets' pages are known (it prints
"page 0"), then again with them. WeasyPrint 70 even lays it out a third time, because of two
slips in how it records what a lookup depends on:

1. `formatting_structure/build.py`, `compute_content_list`: for a `target-counter()` it rebinds
   the local `missing_counters` to the target's list
   (`missing_counters = missing_target_counters.setdefault(anchor_name, [])`), so the box is
   recorded as depending on its *own* page counters too. `make_page` then re-parses it, and
   marks its page for another layout, whenever that page's counters change, and they always
   change once: `pages` (the page total) is 0 on the first pass and known on the second.
2. The same line keys the target's counters by `anchor_name_from_token(anchor_token)`, which is
   None for an `attr()` token not yet resolved to the element's `href`. So a change of the
   target's page never reaches the lookup by the route meant for it (1 is what updates it).

`ContentsTargetCollector` corrects both where WeasyPrint records them (`collect_missing_counters`)
and, with the lookups keyed right, does not re-parse a lookup when all that changed at its target
is the page total it does not print (`cache_target_page_counters`).

The second layout only replaces "page 0" by "page 3": about 7.5 % of a render for one digit per
line. `make_all_pages` (in place of WeasyPrint's, which `layout_document` calls once per pass)
puts the new text into the laid-out page instead (`ContentsTargetCollector.fill_in`), only where
that gives the page the second layout would give:
- every box on the page whose lookup WeasyPrint parsed again for a target's new page holds one
  line of text, and its new text differs from the laid-out one in digits only (same length),
  with the same width, height and baseline when measured as WeasyPrint measures a line, the old
  text measuring what the laid-out box has: so every line of the page breaks where it did and
  every box sits where it did;
- nothing else asked for the page to be laid out again: no lookup on it depends on its own page
  counters or was pending (parsed again when its page is made), it does not want the page total,
  the document has no running elements, and no footnote is left waiting for a page: the other
  reasons WeasyPrint 70 has.
Anything else (a frame starting on page 10 or later, say) is laid out again as before.

Page numbers and bytes are unchanged: tests/test_pdf.py renders every bundled handout, and
documents built to fail each condition above, with all of this, with the collector alone and
with WeasyPrint alone, compares the bytes and counts the pages laid out.

`install()` puts both in place for this process, only on the WeasyPrint they were written
against; test_pdf.py fails when they are not in place, which is the prompt to check whether a
newer WeasyPrint still needs them.
"""

from __future__ import annotations

import copy
import functools
import inspect
from collections.abc import Iterator
from typing import Any

import weasyprint
import weasyprint.document
import weasyprint.layout
import weasyprint.layout.inline
import weasyprint.layout.page
from weasyprint.css.targets import TargetCollector
from weasyprint.formatting_structure.boxes import TextBox
from weasyprint.text.line_break import split_first_line

from pipeline.render.weasyprint70.upstream import unchanged

#: The WeasyPrint versions this was written against (major version).
FOR_WEASYPRINT = "70."
_COUNTERS = ("counter()", "counters()")
_TARGET_COUNTERS = ("target-counter()", "target-counters()")
_DIGITS = frozenset("0123456789")
_MAKE_ALL_PAGES = weasyprint.layout.make_all_pages
_REMAKE_PAGE = weasyprint.layout.page.remake_page
_MAKE_PAGE = weasyprint.layout.page.make_page
#: sha256 of the source text of each WeasyPrint 70.0 function the filling in relies on: those
#: that lay pages out and mark them for another layout, and how a line's text box is measured.
FILL_IN_SOURCES = {
    "layout_document": "a5cbf437e99caf7293e7ed2289278048bca734f7ead2e947b4e24e4a3a536dbc",
    "make_all_pages": "b5e4034894841caa9581fa5d33338c71a7d8948be65618d358ab4b946f367edb",
    "remake_page": "1ff09b2dffa17839c03aec1150866068066c43e76a5cace0ea298e68909c6d31",
    "make_page": "656f183328e8b1b56311a342621442056c067422958dcaf6730acdfb6c7b8971",
    "cache_target_page_counters": (
        "545eb30bb50f0e4921f6405ed31cfcc20bb92f32c85b549fe81507cbf27d6dee"
    ),
    "split_text_box": "8c564329599ef23fac6cc8c403768e9e51638226d87a8b2de69c49c9c5f408c8",
}


class ContentsTargetCollector(TargetCollector):  # type: ignore[misc]
    """WeasyPrint's TargetCollector, recording a `target-counter()` lookup's dependencies right,
    and noting which lookups it parses again for a new target page (see `fill_in`)."""

    def __init__(self) -> None:
        super().__init__()
        #: Page index -> ids of the `content` lookups on it parsed again for a target's new page.
        self.reparsed: dict[int, set[int]] = {}
        #: Ids of lookups WeasyPrint parses again when their page is made (pending ones).
        self.pending_ids: set[int] = set()

    def collect_missing_counters(
        self,
        parent_box: Any,
        css_token: str,
        parse_again_function: Any,
        missing_counters: list[str],
        missing_target_counters: dict[str | None, list[str]],
    ) -> None:
        if css_token == "content" and missing_target_counters:
            content = parent_box.style["content"]
            items = list(content) if isinstance(content, (list, tuple)) else []
            kinds = {kind for kind, _ in items}
            # 1: the local list is one of the targets' lists; with no counter() of its own the
            # box depends on none of its own page counters.
            aliased = any(missing_counters is v for v in missing_target_counters.values())
            if aliased and not kinds & set(_COUNTERS):
                missing_counters = []
            # 2: key the target's counters by the anchor the attr() names.
            targets = [value for kind, value in items if kind in _TARGET_COUNTERS]
            if None in missing_target_counters and len(targets) == 1:
                anchor = _attr_anchor(parent_box, targets[0][0])
                if anchor is not None:
                    missing_target_counters = {
                        **{k: v for k, v in missing_target_counters.items() if k is not None},
                        anchor: missing_target_counters[None],
                    }
        super().collect_missing_counters(
            parent_box,
            css_token,
            parse_again_function,
            missing_counters,
            missing_target_counters,
        )

    def cache_target_page_counters(
        self,
        anchor_name: str,
        page_counter_values: dict[str, list[int]],
        page_maker_index: int,
        page_maker: list[Any],
    ) -> None:
        item = self.target_lookup_items.get(anchor_name)
        if (
            not self.collecting
            and item is not None
            and item.state == "up-to-date"
            and item.cached_page_counter_values
            and _without_total(item.cached_page_counter_values)
            == _without_total(page_counter_values)
            and not self._total_wanted(anchor_name)
        ):
            # Only the page total changed, and no lookup of this anchor prints it.
            item.page_maker_index = page_maker_index
            item.cached_page_counter_values = copy.deepcopy(page_counter_values)
            return
        if (
            not self.collecting
            and item is not None
            and item.state == "up-to-date"
            and item.cached_page_counter_values != page_counter_values
        ):
            self._note_reparsed(anchor_name, page_counter_values, page_maker)
        super().cache_target_page_counters(
            anchor_name, page_counter_values, page_maker_index, page_maker
        )

    def _note_reparsed(
        self, anchor_name: str, page_counter_values: dict[str, list[int]], page_maker: list[Any]
    ) -> None:
        """The lookups WeasyPrint's method is about to parse again (the same tests, in order)."""
        for (_, css_token), lookup in self.counter_lookup_items.items():
            wanted = lookup.missing_target_counters.get(anchor_name)
            if css_token != "content" or wanted is None:
                continue
            index = lookup.page_maker_index
            if index is None or index >= len(page_maker):
                self.pending_ids.add(id(lookup))
            elif any(page_counter_values.get(name) is not None for name in wanted):
                self.reparsed.setdefault(index, set()).add(id(lookup))

    def fill_in(self, context: Any, pages: list[Any]) -> None:
        """Put the new page numbers into pages already laid out, where WeasyPrint would lay the
        page out again only for them; see the module's docstring for when that is exact."""
        if any(context.running_elements.values()) or context.footnotes:
            return
        for index, lookup_ids in list(self.reparsed.items()):
            remake_state = context.page_maker[index][-1] if index < len(pages) else None
            if remake_state is None or remake_state["pages_wanted"]:
                continue
            if remake_state["content_changed"] and self._refill(context, pages[index], lookup_ids):
                remake_state["content_changed"] = False
                del self.reparsed[index]

    def _refill(self, context: Any, page: Any, lookup_ids: set[int]) -> bool:
        """Give each box of `page` made from a lookup parsed again its new text, if every such
        text differs from the laid-out one in digits only, at the same width; else change
        nothing and return False."""
        changes = []
        found = set()
        for box in page.descendants(placeholders=True):
            link = getattr(box, "missing_link", None)
            lookup = None if link is None else self.counter_lookup_items.get((link, "content"))
            if lookup is None:
                continue
            if id(lookup) in self.pending_ids or lookup.missing_counters:
                return False  # parsed again when its page is made, or for its own counters
            if id(lookup) not in lookup_ids:
                continue
            change = _new_text(context, box, link)
            if change is None:
                return False
            found.add(id(lookup))
            changes.append(change)
        if found != lookup_ids:
            return False
        for text_box, text, pango_layout in changes:
            text_box.text, text_box.pango_layout = text, pango_layout
        return True

    def _total_wanted(self, anchor_name: str) -> bool:
        return any(
            "pages" in lookup.missing_target_counters.get(anchor_name, ())
            for lookup in self.counter_lookup_items.values()
        )


def _new_text(context: Any, laid_out: Any, source: Any) -> tuple[Any, str, Any] | None:
    """(text box, new text, its Pango layout) if `laid_out`, the page's copy of `source`, holds
    one line of text that `source`'s new text changes in digits only, at the same metrics."""
    children = getattr(laid_out, "children", None)
    if (
        not children
        or len(children) != 1
        or len(source.children) != 1
        or not isinstance(children[0], TextBox)
        or not isinstance(source.children[0], TextBox)
        or laid_out.style is not source.style
        or children[0].style is not source.children[0].style
    ):
        return None
    text_box, old, new = children[0], children[0].text, source.children[0].text
    if old == new:
        return text_box, old, text_box.pango_layout
    if len(old) != len(new) or any(
        a != b and not (a in _DIGITS and b in _DIGITS) for a, b in zip(old, new, strict=True)
    ):
        return None
    style, spacing = text_box.style, text_box.justification_spacing
    before = split_first_line(old, style, context, None, spacing)
    after = split_first_line(new, style, context, None, spacing)
    # The old text measures as laid out (the box's baseline has the half-leading added), and
    # the new one measures the same: one whole line, same width, height and baseline.
    if (
        before[1:5] != (len(old.encode()), None, text_box.width, text_box.height)
        or after[1:3] != (len(new.encode()), None)
        or before[3:6] != after[3:6]
    ):
        return None
    return text_box, new, after[0]


def _without_total(values: dict[str, list[int]]) -> dict[str, list[int]]:
    return {name: value for name, value in values.items() if name != "pages"}


def _attr_anchor(box: Any, token: Any) -> str | None:
    """The anchor an `attr(name url)` token names on this box's element ('#id' -> 'id')."""
    if not (isinstance(token, tuple) and len(token) == 2 and token[0] == "attr()"):
        return None
    element = getattr(box, "element", None)
    if element is None:
        return None
    value = element.get(token[1][0], "")
    return value[1:] if isinstance(value, str) and value.startswith("#") else None


def applies() -> bool:
    """True on the WeasyPrint this was written against, with the methods it overrides."""
    if not weasyprint.__version__.startswith(FOR_WEASYPRINT):
        return False
    expected = {
        "collect_missing_counters": [
            "self",
            "parent_box",
            "css_token",
            "parse_again_function",
            "missing_counters",
            "missing_target_counters",
        ],
        "cache_target_page_counters": [
            "self",
            "anchor_name",
            "page_counter_values",
            "page_maker_index",
            "page_maker",
        ],
    }
    for name, parameters in expected.items():
        method = getattr(TargetCollector, name, None)
        if method is None or list(inspect.signature(method).parameters) != parameters:
            return False
    return weasyprint.document.TargetCollector in (TargetCollector, ContentsTargetCollector)


def make_all_pages(context: Any, root_box: Any, html: Any, pages: list[Any]) -> Iterator[Any]:
    """WeasyPrint's pass over the pages, then the new page numbers put into pages laid out."""
    laid_out = list(_MAKE_ALL_PAGES(context, root_box, html, pages))
    collector = context.target_collector
    if isinstance(collector, ContentsTargetCollector) and filling_in():
        collector.fill_in(context, laid_out)
    yield from laid_out


@functools.cache
def fill_in_applies() -> bool:
    """Whether WeasyPrint's functions `fill_in` relies on are those it was written against."""
    functions = {
        "layout_document": weasyprint.layout.layout_document,
        "make_all_pages": _MAKE_ALL_PAGES,
        "remake_page": _REMAKE_PAGE,
        "make_page": _MAKE_PAGE,
        "cache_target_page_counters": TargetCollector.cache_target_page_counters,
        "split_text_box": weasyprint.layout.inline.split_text_box,
    }
    return unchanged(functions, FILL_IN_SOURCES)


def install(fill_in: bool = True) -> bool:
    """Use ContentsTargetCollector for every document this process lays out, and unless told
    not to, fill page numbers in where that is exact (`make_all_pages`); True if in place."""
    if applies():
        weasyprint.document.TargetCollector = ContentsTargetCollector
        filler = make_all_pages if fill_in and fill_in_applies() else _MAKE_ALL_PAGES
        weasyprint.layout.make_all_pages = filler
    return installed()


def uninstall() -> None:
    """Back to WeasyPrint's own collector and pass (tests compare the two)."""
    if weasyprint.document.TargetCollector is ContentsTargetCollector:
        weasyprint.document.TargetCollector = TargetCollector
    weasyprint.layout.make_all_pages = _MAKE_ALL_PAGES


def installed() -> bool:
    return weasyprint.document.TargetCollector is ContentsTargetCollector


def filling_in() -> bool:
    return weasyprint.layout.make_all_pages is make_all_pages
