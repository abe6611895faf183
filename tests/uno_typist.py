"""Type into documents in LibreOffice the way a person does, through its dispatcher.

Run by Debian's /usr/bin/python3 (it has `uno`, from python3-uno), not by the project's venv, so
it imports nothing from the project. One LibreOffice for a whole batch:

    /usr/bin/python3 tests/uno_typist.py SOFFICE PROFILE_DIR < batch.json > results.json

The batch is {"jobs": [job, ...]}; each job opens `in`, types, saves `out` and reports:
- {"kind": "writer", "in", "out", "values": {key: text}}: every text form field (FORMTEXT
  fieldmark) whose hint ends "[key]" gets `values[key]` typed over its placeholder (view cursor
  on the field's text, `.uno:InsertText`, the command keyboard typing uses); then typing is
  tried at the start of the document, over its first characters and in front of them (canon
  text). Reports {"protected", "fields": [{"name", "key", "before", "after"}], "start_before",
  "start_after", "portions": {portion type: count}}.
- {"kind": "calc", "in", "out", "cells": [[sheet, cell, text], ...]}: see `calc`. Reports
  {"cells": [[sheet, cell, sheet protected, cell locked, before, after], ...]}.
- {"kind": "keys", "in", "cells": [[sheet, cell, text], ...]}: each text entered through the
  dispatcher, `.uno:EnterString` (what Calc runs when a typed cell is committed), locked cells
  included; nothing saved (see `keys`). Reports {"cells": [[sheet, cell, before, after string,
  after value, after type], ...], "starts": soffice processes used}.
- {"kind": "keys-saved", "in", "out", "cells": [...]}: the same typing, every cell in one
  soffice, then a save as XLSX (see `keys_saved`). Reports {"cells": [...] as for "keys" (those
  typed before soffice died, if it did), "saved": whether the save finished, "died": whether
  soffice died}.

Prints {"version": LibreOffice's version ("7.4.7.2"), "results": [one report per job]}.
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import uno  # type: ignore[import-not-found]
from com.sun.star.beans import PropertyValue  # type: ignore[import-not-found]
from com.sun.star.lang import Locale  # type: ignore[import-not-found]

KEY = re.compile(r"\[([^\[\]]+)\]\s*$")
FILTERS = {"writer": "MS Word 2007 XML", "calc": "Calc MS Excel 2007 XML"}


def prop(name: str, value: Any) -> Any:
    p = PropertyValue()
    p.Name = name
    p.Value = value
    return p


def connect(soffice: str, profile: str) -> tuple[subprocess.Popen[bytes], Any]:
    pipe = f"typist-{uuid.uuid4().hex}"
    proc = subprocess.Popen(
        [
            soffice,
            "--headless",
            "--invisible",
            "--norestore",
            "--nologo",
            f"-env:UserInstallation=file://{profile}",
            f"--accept=pipe,name={pipe};urp;",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    local = uno.getComponentContext()
    resolver = local.ServiceManager.createInstanceWithContext(
        "com.sun.star.bridge.UnoUrlResolver", local
    )
    for _ in range(240):  # a cold start with a fresh profile takes a few seconds
        try:
            ctx = resolver.resolve(f"uno:pipe,name={pipe};urp;StarOffice.ComponentContext")
            return proc, ctx
        except Exception:  # NoConnectException until soffice listens
            if proc.poll() is not None:
                raise RuntimeError(f"soffice exited with {proc.returncode}") from None
            time.sleep(0.25)
    proc.kill()
    raise RuntimeError("soffice did not accept a connection")


def paragraphs(enum: Any) -> Any:
    """Every paragraph, table cells included, in document order."""
    while enum.hasMoreElements():
        el = enum.nextElement()
        if el.supportsService("com.sun.star.text.TextTable"):
            for name in el.getCellNames():
                yield from paragraphs(el.getCellByName(name).createEnumeration())
        elif el.supportsService("com.sun.star.text.Paragraph"):
            yield el


def writer(doc: Any, dispatch: Any, job: dict[str, Any]) -> dict[str, Any]:
    settings = doc.createInstance("com.sun.star.text.DocumentSettings")
    frame = doc.getCurrentController().getFrame()
    cursor = doc.getCurrentController().getViewCursor()
    portions: dict[str, int] = {}
    marks = []
    for p in paragraphs(doc.getText().createEnumeration()):
        enum = p.createEnumeration()
        while enum.hasMoreElements():
            portion = enum.nextElement()
            kind = portion.TextPortionType
            portions[kind] = portions.get(kind, 0) + 1
            if kind == "TextFieldStart":
                marks.append(portion.Bookmark)
    fields = []
    for mark in marks:
        params = mark.getParameters()
        hint = params.getByName("Hint") if params.hasByName("Hint") else ""
        found = KEY.search(hint)
        key = found.group(1) if found else None
        before = mark.getAnchor().getString()
        if key in job["values"]:
            # the view cursor on the field's text (end mark, then back over the placeholder)
            cursor.gotoRange(mark.getAnchor().getEnd(), False)
            cursor.goLeft(1, False)
            cursor.goLeft(len(before), True)
            text = job["values"][key]
            dispatch.executeDispatch(frame, ".uno:InsertText", "", 0, (prop("Text", text),))
        fields.append(
            {
                "name": mark.getName(),
                "type": mark.getFieldType(),
                "key": key,
                "before": before,
                "after": mark.getAnchor().getString(),
            }
        )
    start_before = doc.getText().getString()[:60]
    cursor.gotoStart(False)
    cursor.goRight(5, True)
    dispatch.executeDispatch(frame, ".uno:InsertText", "", 0, (prop("Text", "EDITED"),))
    cursor.gotoStart(False)
    dispatch.executeDispatch(frame, ".uno:InsertText", "", 0, (prop("Text", "EDITED"),))
    return {
        "protected": bool(settings.getPropertyValue("ProtectForm")),
        "portions": portions,
        "fields": fields,
        "start_before": start_before,
        "start_after": doc.getText().getString()[:60],
    }


def calc(doc: Any, dispatch: Any, job: dict[str, Any]) -> dict[str, Any]:
    """Each cell: whether LibreOffice holds its sheet protected and the cell locked; an
    unlocked cell then gets the text entered as Calc parses typing (`setFormula`: "12.5" a
    number, "2027-06-30" a date, "80%" 0.8, with the `0.00%` format typing gives the cell and
    setFormula does not). Not `.uno:EnterString`: LibreOffice 7.4 aborts a second or so
    after it on a hidden document (any workbook, even one cell; signal 6, seen on 7.4.7), and the
    API does not check protection itself, hence the locked flag is reported, not tried."""
    cells = []
    for sheet_name, name, text in job["cells"]:
        sheet = doc.getSheets().getByName(sheet_name)
        cell = sheet.getCellRangeByName(name)
        before = cell.getString()
        locked = bool(cell.CellProtection.IsLocked)
        if not locked:
            cell.setFormula(text)
            if text.endswith("%"):  # Calc recognising a typed percentage formats the cell so
                cell.NumberFormat = percent_format(doc)
        cells.append(
            [sheet_name, name, bool(sheet.isProtected()), locked, before, cell.getString()]
        )
    return {"cells": cells}


def percent_format(doc: Any) -> int:
    """The key of the `0.00%` number format, what Calc gives a cell typed `80%`."""
    formats = doc.getNumberFormats()
    locale = Locale()
    key = formats.queryKey("0.00%", locale, False)
    return int(key if key != -1 else formats.addNew("0.00%", locale))


class Office:
    """One soffice and its desktop; started again if it dies (see `run`)."""

    def __init__(self, soffice: str, profile: str) -> None:
        self.soffice, self.profile = soffice, profile
        self.proc, ctx = connect(soffice, profile)
        smgr = ctx.ServiceManager
        self.desktop = smgr.createInstanceWithContext("com.sun.star.frame.Desktop", ctx)
        self.dispatch = smgr.createInstanceWithContext("com.sun.star.frame.DispatchHelper", ctx)
        config = smgr.createInstanceWithContext(
            "com.sun.star.configuration.ConfigurationProvider", ctx
        )
        product = config.createInstanceWithArguments(
            "com.sun.star.configuration.ConfigurationAccess",
            (prop("nodepath", "/org.openoffice.Setup/Product"),),
        )
        self.version = str(product.getByName("ooSetupVersionAboutBox"))  # "7.4.7.2"

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(Exception):  # the bridge drops as soffice exits
                self.desktop.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def keys(office: Office, job: dict[str, Any]) -> tuple[dict[str, Any], Office]:
    """Enter each cell's text through `.uno:EnterString` and read the cell straight back.

    LibreOffice 7.4.7 (Debian 12's nogui build, whose only display backend is headless `svp`)
    enters the text, refuses a locked cell of a protected sheet, and then aborts 0.4-0.6 s after
    the first EnterString (signal 6 in a timer, `SvpSalInstance::CheckTimeout`), on any workbook;
    a visible frame aborts it at once, and Xvfb changes nothing as there is no X11 backend. A
    save takes about as long as that window, so nothing is saved: each cell is typed and read in
    a few milliseconds, and when soffice dies the rest continue in a new one (from the same
    untouched file), a cell whose read was cut off included.
    """
    url = uno.systemPathToFileUrl(job["in"])
    todo = [list(c) for c in job["cells"]]
    done: list[list[Any]] = []
    starts = 1
    while todo:
        if starts > 2 + len(job["cells"]):
            raise RuntimeError(f"soffice kept dying before a cell was read: {todo[0]}")
        try:
            doc = office.desktop.loadComponentFromURL(url, "_blank", 0, (prop("Hidden", True),))
            if doc is None:
                raise RuntimeError(f"LibreOffice could not open {job['in']}")
            while todo:
                done.append(enter(office, doc, *todo[0]))
                todo.pop(0)
        except RuntimeError:
            raise
        except Exception:  # DisposedException: soffice died; go on in a new one
            office.stop()
            # the lock file it left makes the next load of that file fail without a word
            source = Path(job["in"])
            (source.parent / f".~lock.{source.name}#").unlink(missing_ok=True)
            office = Office(office.soffice, office.profile)
            starts += 1
    return {"cells": done, "starts": starts}, office


def enter(office: Office, doc: Any, sheet_name: str, name: str, text: str) -> list[Any]:
    """`text` entered into one cell through `.uno:EnterString`; the cell as read back."""
    controller = doc.getCurrentController()
    sheet = doc.getSheets().getByName(sheet_name)
    cell = sheet.getCellRangeByName(name)
    before = cell.getString()
    controller.setActiveSheet(sheet)
    controller.select(cell)
    office.dispatch.executeDispatch(
        controller.getFrame(), ".uno:EnterString", "", 0, (prop("StringName", text),)
    )
    kind = cell.getType().value  # EMPTY, VALUE, TEXT or FORMULA
    return [sheet_name, name, before, cell.getString(), cell.getValue(), kind]


def keys_saved(office: Office, job: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """Every cell typed through `.uno:EnterString` in ONE soffice, then saved as XLSX and closed;
    returns the report and whether soffice survived. LibreOffice 7.4.7 headless dies 0.4-0.6 s
    after the first EnterString (see `keys`), before the save can finish; a LibreOffice that
    survives typing saves the typed workbook."""
    url = uno.systemPathToFileUrl(job["in"])
    doc = office.desktop.loadComponentFromURL(url, "_blank", 0, (prop("Hidden", True),))
    if doc is None:
        raise RuntimeError(f"LibreOffice could not open {job['in']}")
    cells: list[list[Any]] = []
    saved = False
    try:
        for sheet_name, name, text in job["cells"]:
            cells.append(enter(office, doc, sheet_name, name, text))
        doc.storeToURL(uno.systemPathToFileUrl(job["out"]), (prop("FilterName", FILTERS["calc"]),))
        saved = True
        doc.close(True)
        alive = office.proc.poll() is None
    except Exception:  # DisposedException: soffice died
        alive = False
    if not alive:
        source = Path(job["in"])
        (source.parent / f".~lock.{source.name}#").unlink(missing_ok=True)
    return {"cells": cells, "saved": saved, "died": not alive}, alive


def run(office: Office, job: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """Open, type, save, close; returns the report and whether soffice survived the close.

    LibreOffice 7.4 may die after a save (it does when a hidden Calc document was typed into
    with `.uno:EnterString`); the saved file is complete, and the caller starts a new soffice
    for the next job.
    """
    url = uno.systemPathToFileUrl(job["in"])
    doc = office.desktop.loadComponentFromURL(url, "_blank", 0, (prop("Hidden", True),))
    if doc is None:
        raise RuntimeError(f"LibreOffice could not open {job['in']}")
    result = (writer if job["kind"] == "writer" else calc)(doc, office.dispatch, job)
    target = uno.systemPathToFileUrl(job["out"])
    doc.storeToURL(target, (prop("FilterName", FILTERS[job["kind"]]),))
    try:
        doc.close(True)
    except Exception:  # DisposedException: soffice died closing it
        return result, False
    return result, True


def main() -> int:
    soffice, profile = sys.argv[1], sys.argv[2]
    batch = json.load(sys.stdin)
    office = Office(soffice, profile)
    version = office.version
    results = []
    try:
        for n, job in enumerate(batch["jobs"]):
            if job["kind"] == "keys":
                result, office = keys(office, job)
                alive = False  # 7.4 dies half a second later: a new soffice for any later job
            elif job["kind"] == "keys-saved":
                result, alive = keys_saved(office, job)
            else:
                result, alive = run(office, job)
            results.append(result)
            if not alive and n + 1 < len(batch["jobs"]):
                office.stop()
                office = Office(soffice, profile)
    finally:
        office.stop()
    json.dump({"version": version, "results": results}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
