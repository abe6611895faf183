"""One rule for the value of a filled field, whichever file it came back in.

A manager fills the same field in the review form (text typed into a form field) or in the
tracker (a spreadsheet cell, which Excel and LibreOffice parse as typed: `12.50` a number,
`80%` 0.8 shown as a percentage, `2027-06-30` a date). The readers give both back as the same
text (`docx_form.read_form`, `xlsx_tracker.read_tracker`):

- a date as ISO `YYYY-MM-DD` (the form asks for `yyyy-MM-dd`; a tracker date cell comes back so);
- a plain number as its shortest digits, `12.50` and `+12.5` as `12.5`, `007` as `7`, never an
  exponent; a percentage likewise with its `%` (`80.0%` as `80%`), on the tracker whatever
  decimals the cell's format shows. A tracker keeps 15 significant digits, as spreadsheets do;
- anything else (text, a number with a unit or a thousands separator) as written; a leftover
  token stays in it (`2027-06-30⟨date⟩`) for the harvest to flag, never taken as a date.

The results workbook then types these texts one way for both (`results.typed`).
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from pipeline.harvest.xlsx_cells import Percent

__all__ = ["cell_text", "written"]

#: A plain number as typed: optional sign, digits with an optional decimal point, optional `%`.
PLAIN_NUMBER = re.compile(r"([+-]?)(\d+(?:\.\d*)?|\.\d+)(%?)")


def written(text: str) -> str:
    """A form field's text under the rule: a plain number (or percentage) in its shortest
    digits, anything else unchanged."""
    found = PLAIN_NUMBER.fullmatch(text.strip())
    if found is None:
        return text
    sign, body, percent = found.groups()
    return _positional(Decimal(("-" if sign == "-" else "") + body)) + percent


def cell_text(value: object) -> str | None:
    """A tracker cell's value under the rule; None for an empty cell.

    A date-formatted number is ISO `YYYY-MM-DD` (with ` HH:MM:SS` only when it has a time of
    day); a number its digits at the 15 significant digits a spreadsheet keeps (12.5 -> "12.5",
    40.0 -> "40"); a number its cell shows as a percentage that times 100 with `%` (0.8 ->
    "80%"); a boolean `TRUE`/`FALSE`; text (a formula's cached text, an error such as `#N/A`)
    as it is, less edge white space (a form field's text is stripped too).
    """
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        if value.time() == time():
            return value.date().isoformat()
        return value.replace(tzinfo=None).isoformat(sep=" ", timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, Percent):
        return _positional(Decimal(format(value * 100, ".15g"))) + "%"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _positional(Decimal(format(value, ".15g")))
    if isinstance(value, timedelta):
        return str(value)
    text = str(value).strip()  # as a form field's text is
    return text or None


def _positional(number: Decimal) -> str:
    """`number` in positional notation with no trailing fractional zeros ("0", never "-0")."""
    if number.is_zero():
        return "0"
    text = format(number, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text
