"""Review cycles: a roster in, one personalised form and tracker per person out (`packs cycle`).

`roster` reads and checks HR's export, `identity` seals who an issued file is for and reads it
back (the harvest's entry point), `contract` is `cycle.json` and the cycle's name and period.
"""

from __future__ import annotations

from pipeline.cycle.contract import (
    CYCLE_JSON,
    CycleRecord,
    IssuedFile,
    Period,
    PersonEntry,
    check_arguments,
    cycle_json,
    read_cycle_json,
)
from pipeline.cycle.identity import (
    SECRET_FILE,
    Identity,
    ensure_secret,
    load_secret,
    read_identity,
    seal,
    stamp,
    verify,
)
from pipeline.cycle.roster import MAX_ROSTER_BYTES, Person, Roster, RosterError, read_roster

__all__ = [
    "CYCLE_JSON",
    "MAX_ROSTER_BYTES",
    "SECRET_FILE",
    "CycleRecord",
    "Identity",
    "IssuedFile",
    "Period",
    "Person",
    "PersonEntry",
    "Roster",
    "RosterError",
    "check_arguments",
    "cycle_json",
    "ensure_secret",
    "load_secret",
    "read_cycle_json",
    "read_identity",
    "read_roster",
    "seal",
    "stamp",
    "verify",
]
