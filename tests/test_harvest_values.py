"""One value per field whatever the route: the same value filled into a review form and into a
tracker reads back the same (`pipeline.harvest.values`), and the results workbook types it the
same.

A form field holds the text a manager typed; a tracker cell holds what a spreadsheet makes of
typing it (Excel and LibreOffice alike: `12.50` the number 12.5, `80%` 0.8 in a percentage
format, `2027-06-30` a date; `tests/test_office_typing.py` checks LibreOffice does exactly this).
"""

from __future__ import annotations

import io
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from pipeline.harvest.docx_form import read_form
from pipeline.harvest.results import typed
from pipeline.harvest.values import cell_text, written
from pipeline.harvest.xlsx_cells import Percent
from pipeline.harvest.xlsx_tracker import read_tracker
from pipeline.layout import Layout, RenderOptions
from pipeline.model import ProfileFrames
from pipeline.render import FORMATS
from tests.test_docx import fill as fill_form

#: (form key, tracker row key, tracker column) of fields both files have.
FIELDS = (
    ("smart.1.measurable.baseline", "smart.1.measurable", "Baseline"),
    ("smart.1.measurable.target", "smart.1.measurable", "Target"),
    ("mbo.1.target", "mbo.1", "Target"),
    ("mbo.1.due", "mbo.1", "Due"),
    ("mbo.2.due", "mbo.2", "Due"),
)

#: A filled value: (what is typed, what a spreadsheet stores, the cell's number format or None).
Filled = tuple[str, Any, str | None]


def _number_text(d: Decimal, plus: bool, zeros: int, lead: bool) -> str:
    text = format(d, "f")
    if zeros and "." not in text:
        text += "."
    text += "0" * zeros
    if lead and not text.startswith("-"):
        text = "0" + text
    return ("+" + text) if plus and not text.startswith("-") else text


DECIMALS = st.decimals(min_value=-(10**9), max_value=10**9, places=3, allow_nan=False)


@st.composite
def filled(
    draw: st.DrawFn, kinds: tuple[str, ...] = ("date", "number", "percent", "text")
) -> Filled:
    """A number typed into a date-formatted cell (Due) is a day number to a spreadsheet, a
    number to a form: the one difference the routes keep, so Due is drawn dates and text."""
    kind = draw(st.sampled_from(kinds))
    if kind == "date":
        day = draw(st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)))
        return day.isoformat(), datetime(day.year, day.month, day.day), "yyyy-mm-dd"
    if kind in ("number", "percent"):
        d = draw(DECIMALS)
        text = _number_text(d, draw(st.booleans()), draw(st.integers(0, 2)), draw(st.booleans()))
        if kind == "percent":
            return text + "%", float(d) / 100, draw(st.sampled_from(["0%", "0.00%"]))
        stored: Any = int(d) if d == d.to_integral_value() and "." not in text else float(d)
        return text, stored, None
    text = draw(
        st.text(
            st.characters(categories=("L", "N", "P", "Zs"), exclude_characters="⟨⟩"), min_size=1
        )
    )
    text = text.strip()
    if not text or written(text) != text or typed(text) != text:
        text = "note " + text  # a number or a date is drawn above; this is text
    return text, text, None


class Issued(tuple[bytes, bytes]):
    """The seed form and tracker (shown short in a failing example)."""

    def __repr__(self) -> str:
        return "Issued(form, tracker)"


@pytest.fixture(scope="module")
def issued(seed_frames: ProfileFrames, layout: Layout) -> Issued:
    options = RenderOptions(timestamp=0)
    return Issued(
        (
            FORMATS["docx"].renderer()(seed_frames, layout, options),
            FORMATS["xlsx"].renderer()(seed_frames, layout, options),
        )
    )


def fill_tracker(data: bytes, values: dict[tuple[str, str], Filled]) -> bytes:
    wb = load_workbook(io.BytesIO(data))
    for ws in wb.worksheets:
        titles = [c.value for c in ws[1]]
        if "Key" not in titles:
            continue
        for row in ws.iter_rows(min_row=2):
            key = row[titles.index("Key")].value
            for title, cell in zip(titles, row, strict=True):
                if (key, title) in values:
                    _, stored, number_format = values[(key, title)]
                    cell.value = stored
                    if number_format is not None:
                        cell.number_format = number_format
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def test_the_fields_are_in_both_files(issued: Issued) -> None:
    form, tracker = read_form(issued[0]), read_tracker(issued[1])
    for form_key, row, column in FIELDS:
        assert form_key in form and form[form_key] is None
        assert tracker[row][column] is not None  # its placeholder token


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.tuples(*(filled(("date", "text")) if c == "Due" else filled() for _, _, c in FIELDS)))
def test_a_value_reads_the_same_from_a_form_and_a_tracker(
    issued: Issued, values: tuple[Filled, ...]
) -> None:
    form = read_form(
        fill_form(issued[0], {f: v[0] for (f, _, _), v in zip(FIELDS, values, strict=True)})
    )
    tracker = read_tracker(
        fill_tracker(issued[1], {(r, c): v for (_, r, c), v in zip(FIELDS, values, strict=True)})
    )
    for (form_key, row, column), (text, _, _) in zip(FIELDS, values, strict=True):
        from_form, from_tracker = form[form_key], tracker[row][column]
        assert from_form == from_tracker, (text, from_form, from_tracker)
        assert typed(from_form) == typed(from_tracker)
        assert from_form == written(text)  # the text as typed, a number in its shortest digits


@pytest.mark.parametrize(
    ("typed_text", "stored", "want"),
    [
        ("12.50", 12.5, "12.5"),
        ("+40", 40, "40"),
        ("007", 7, "7"),
        ("80%", Percent(0.8), "80%"),
        ("80.0%", Percent(0.8), "80%"),
        ("12.5%", Percent(0.125), "12.5%"),
        ("0.3", 0.1 + 0.2, "0.3"),
        ("0.00001", 1e-05, "0.00001"),
        ("2027-06-30", datetime(2027, 6, 30), "2027-06-30"),
        ("On track", "On track", "On track"),
        ("95 % of milestones", "95 % of milestones", "95 % of milestones"),
        ("1,200", "1,200", "1,200"),
        ("2027-06-30⟨date⟩", "2027-06-30⟨date⟩", "2027-06-30⟨date⟩"),  # flagged, never a date
    ],
)
def test_the_rule(typed_text: str, stored: object, want: str) -> None:
    assert written(typed_text) == want
    assert cell_text(stored) == want


def test_results_type_a_date_and_a_number_and_keep_a_percentage_as_text() -> None:
    assert typed("2027-06-30") == date(2027, 6, 30)
    assert typed("12.5") == 12.5 and typed("40") == 40
    assert typed("80%") == "80%"
