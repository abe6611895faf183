"""The DOCX review form's read-back contract: what `pipeline.render.to_docx` writes and
`pipeline.harvest.docx_form` and `pipeline.harvest.verify` read back, declared once.

Every fill-in field is a legacy text form field (FORMTEXT) that carries its key twice, because
office suites lose some on a round trip (doctech §1.6): its `w:statusText` "label [key]" (both
suites keep it) and its `w:name` `F001`…, the position of the key in the `FormFields` custom
property. Forms issued with content controls carried the key in `w:tag` and at the end of
`w:alias` the same way. The custom properties also name the profile and canon digest the form
was issued for (`verify`'s claim). The review and sign-off block is not canon but part of the
form, addressed by the fixed keys below (a cycle fills them in per person).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TypeAlias

from pipeline.model import Placeholder, Text

# --- parts ----------------------------------------------------------------------------------------

#: The main part as written (a reader follows `_rels/.rels` to find it, falling back to this).
DOCUMENT_PART = "word/document.xml"
DOCUMENT_RELS_PART = "word/_rels/document.xml.rels"
SETTINGS_PART = "word/settings.xml"

# --- custom properties ----------------------------------------------------------------------------

PROFILE_ID_PROPERTY = "ProfileId"
CANON_DIGEST_PROPERTY = "CanonDigest"
CANON_VERSION_PROPERTY = "CanonVersion"
#: Every field's key in document order, space-separated: field `F001` is its first key, and the
#: reader's fallback by position (forms issued with content controls lose their tags in
#: LibreOffice, doctech §1.6).
FORM_FIELDS_PROPERTY = "FormFields"

# --- field keys -----------------------------------------------------------------------------------

#: A field's key ends its status text ("label [key]"); forms issued with content controls carry
#: it at the end of the alias the same way.
ALIAS_KEY = re.compile(r"\[([^\[\]]+)\]\s*$")
#: Word's form-field names: at most 20 characters, a letter first (`F001`: the first field).
FIELD_NAME = "F{:03d}"
FIELD_NAME_RE = re.compile(r"^F(\d{3,})$")
#: Word keeps at most this many characters of a form field's status-bar text.
STATUS_TEXT_LIMIT = 138
#: An empty text field shows a run of this character (the layout's `docx.text_field`); a field
#: still showing only that, or only its placeholder token, is unfilled.
BLANK_CHAR = "_"


def status_text(label: str, key: str) -> str:
    """A field's `w:statusText`: "label [key]", or "[key]" alone when that would be too long."""
    status = f"{label} [{key}]"
    return status if len(status) <= STATUS_TEXT_LIMIT else f"[{key}]"


def text_key(text: str) -> str | None:
    """The key at the end of a status text or alias ("label [key]"), or None."""
    found = ALIAS_KEY.search(text)
    return found.group(1) if found else None


def field_name(number: int) -> str:
    """The `w:name` of the form's `number`-th field (1-based): `F001`…"""
    return FIELD_NAME.format(number)


def field_number(name: str) -> int | None:
    """The 1-based position a field name `F001`… stands for, or None if it is not one."""
    named = FIELD_NAME_RE.match(name)
    return int(named.group(1)) if named else None


# --- the review and sign-off block ----------------------------------------------------------------


@dataclass(frozen=True)
class FormField:
    """A review or sign-off field: not canon, but part of the form the harvest reads back."""

    key: str
    label: str
    date: bool = False


FormSegment: TypeAlias = Text | Placeholder | FormField

EMPLOYEE_KEY = "review.employee"
MANAGER_KEY = "review.manager"
PERIOD_START_KEY = "review.period.start"
PERIOD_END_KEY = "review.period.end"

REVIEW_TITLE = "Review"
REVIEW_LINES: tuple[tuple[str, tuple[FormSegment, ...]], ...] = (
    ("Employee: ", (FormField(EMPLOYEE_KEY, "Employee"),)),
    ("Manager: ", (FormField(MANAGER_KEY, "Manager"),)),
    (
        "Review period: ",
        (
            FormField(PERIOD_START_KEY, "Review period start", date=True),
            Text(" to "),
            FormField(PERIOD_END_KEY, "Review period end", date=True),
        ),
    ),
)
SIGNOFF_TITLE = "Sign-off"
SIGNOFF_COLUMNS = ("Role", "Name", "Date")
SIGNOFF_ROLES = (("employee", "Employee"), ("manager", "Manager"), ("hr", "HR"))


def signoff_fields(role: str, name: str) -> tuple[FormField, FormField]:
    return (
        FormField(f"signoff.{role}.name", f"{name} name"),
        FormField(f"signoff.{role}.date", f"{name} sign-off date", date=True),
    )
