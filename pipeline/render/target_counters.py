"""A workaround for WeasyPrint 70 laying out the handout's first page three times, not twice.

The handout's contents print each frame's page with `target-counter(attr(href), page)`. A page
holding such a lookup has to be laid out twice: once before the targets' pages are known, once
with them. WeasyPrint 70 lays it out a third time, about 7 % of a handout's render, because of
two slips in how it records what a lookup depends on:

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
is the page total it does not print (`cache_target_page_counters`). Page numbers and bytes are
unchanged: tests/test_pdf.py renders every bundled handout with and without it and compares.

`install()` puts it in place of WeasyPrint's collector for this process, only on the WeasyPrint
it was written against; test_pdf.py fails when it is not in place, which is the prompt to check
whether a newer WeasyPrint still needs it.
"""

from __future__ import annotations

import copy
import inspect
from typing import Any

import weasyprint
import weasyprint.document
from weasyprint.css.targets import TargetCollector

#: The WeasyPrint versions this was written against (major version).
FOR_WEASYPRINT = "70."
_COUNTERS = ("counter()", "counters()")
_TARGET_COUNTERS = ("target-counter()", "target-counters()")


class ContentsTargetCollector(TargetCollector):  # type: ignore[misc]
    """WeasyPrint's TargetCollector, recording a `target-counter()` lookup's dependencies right."""

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
        super().cache_target_page_counters(
            anchor_name, page_counter_values, page_maker_index, page_maker
        )

    def _total_wanted(self, anchor_name: str) -> bool:
        return any(
            "pages" in lookup.missing_target_counters.get(anchor_name, ())
            for lookup in self.counter_lookup_items.values()
        )


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


def install() -> bool:
    """Use ContentsTargetCollector for every document this process lays out; True if in place."""
    if applies():
        weasyprint.document.TargetCollector = ContentsTargetCollector
    return installed()


def uninstall() -> None:
    """Back to WeasyPrint's own collector (tests compare the two)."""
    if weasyprint.document.TargetCollector is ContentsTargetCollector:
        weasyprint.document.TargetCollector = TargetCollector


def installed() -> bool:
    return weasyprint.document.TargetCollector is ContentsTargetCollector
