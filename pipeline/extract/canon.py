"""Load and validate a canon directory (design.md §3) into frozen records.

Every problem in every file is collected and raised together as one `CanonError`, each with the
path and line of the offending node.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any

import yaml

from pipeline.diagnostics import Collector
from pipeline.extract.nodes import RESERVED_NAMES, Reader, line_of
from pipeline.extract.yamlsource import Source, parse_source, read_source
from pipeline.model import (
    DIMENSIONS,
    RUBRIC_KINDS,
    TRACKS,
    Canon,
    CareerPath,
    Components,
    Confidence,
    Focus,
    Function,
    JobDescription,
    Level,
    Located,
    Pay,
    Profile,
)

LEVEL_CODE_RE = re.compile(r"(P[1-8]|M[1-6]|E[1-5]|S1)\Z")
LEVEL_CODES_HINT = "P1–P8, M1–M6, E1–E5 or S1"
SLUG_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,79}\Z")
PROFILE_ID_RE = re.compile(r"[A-Z][A-Z0-9]*\.[A-Z][A-Z0-9]*\.(P[1-8]|M[1-6]|E[1-5]|S1)\Z")
FORMAT_VERSION = 1

_PROFILE_KEYS = (
    "title",
    "status",
    "confidence",
    "region",
    "version",
    "core_outputs",
    "responsibilities",
    "rubrics",
    "components",
    "pay",
)
_JD_KEYS = (
    "profile",
    "salary",
    "tags",
    "role_definition",
    "career_path",
    "primary_functions",
    "secondary_functions",
    "hard_skills",
    "soft_skills",
    "education",
    "experience",
)


def _display(path: Path) -> str:
    """The path as the user can open it (relative to where they pointed --canon)."""
    return path.as_posix()


def _format_version(r: Reader, doc: dict[str, yaml.Node], node: yaml.Node) -> bool:
    version = doc.get("canon")
    if version is None:
        return False
    value = r.integer(version, "canon")
    if value is not None and value != FORMAT_VERSION:
        r.error(version, f"canon: format version {value} is not supported (expected 1)", "version")
        return False
    return value is not None


def _levels(path: Path, display: str, problems: Collector) -> dict[str, Level | None]:
    """Levels by code; a code that is present but invalid maps to None (already reported)."""
    source = read_source(path, display, problems)
    node = parse_source(source, problems) if source else None
    if node is None:
        return {}
    r = Reader(display, problems)
    doc = r.mapping(node, "levels file", required=("canon", "levels"))
    if doc is None or not _format_version(r, doc, node) or "levels" not in doc:
        return {}
    out: dict[str, Level | None] = {}
    for code, key_node, value in r.items(doc["levels"], "levels"):
        if not LEVEL_CODE_RE.match(code):
            r.error(
                key_node,
                f"levels: unknown level code '{code}' (expected {LEVEL_CODES_HINT})",
                "unknown-level",
            )
            continue
        where = f"levels.{code}"
        m = r.mapping(
            value,
            where,
            required=("title", "track"),
            optional=("years", "description", "dimensions"),
        )
        out[code] = None
        if m is None:
            continue
        title = r.text(m.get("title"), f"{where}.title")
        track = r.text(m.get("track"), f"{where}.track")
        if track is not None and track not in TRACKS:
            r.error(
                m["track"],
                f"{where}.track: '{track}' is not a track (expected {', '.join(TRACKS)})",
            )
            track = None
        dims = (
            r.texts(m["dimensions"], f"{where}.dimensions", DIMENSIONS) if "dimensions" in m else ()
        )
        if title is None or track is None:
            continue
        out[code] = Level(
            code=code,
            title=title,
            track=track,
            years=r.text(m.get("years"), f"{where}.years"),
            description=r.text(m.get("description"), f"{where}.description"),
            dimensions=tuple(dims),
            where=Located(display, line_of(key_node)),
        )
    return out


def _profile(
    r: Reader,
    code: str,
    key_node: yaml.Node,
    node: yaml.Node,
    function: Function,
    focus: Focus,
    level: Level,
) -> Profile | None:
    where = f"profiles.{code}"
    m = r.mapping(node, where, optional=_PROFILE_KEYS)
    if m is None:
        return None
    rubrics = r.texts(m["rubrics"], f"{where}.rubrics", RUBRIC_KINDS) if "rubrics" in m else ()
    components = Components()
    if "components" in m:
        cm = r.mapping(
            m["components"],
            f"{where}.components",
            optional=("responsibilities", "tasks", "skills", "knowledge", "competencies"),
        )
        if cm is not None:
            components = Components(
                **{
                    k: r.text_list(cm.get(k), f"{where}.components.{k}")
                    for k in ("responsibilities", "tasks", "skills", "knowledge", "competencies")
                }
            )
    confidence = None
    if "confidence" in m:
        cf = r.mapping(m["confidence"], f"{where}.confidence", ("band",), ("score",))
        if cf is not None:
            band = r.text(cf.get("band"), f"{where}.confidence.band")
            if band is not None:
                confidence = Confidence(
                    band, r.number(cf.get("score"), f"{where}.confidence.score")
                )
    pay = None
    if "pay" in m:
        pm = r.mapping(m["pay"], f"{where}.pay", optional=("median", "low", "high", "currency"))
        if pm is not None:
            pay = Pay(
                median=r.integer(pm.get("median"), f"{where}.pay.median"),
                low=r.integer(pm.get("low"), f"{where}.pay.low"),
                high=r.integer(pm.get("high"), f"{where}.pay.high"),
                currency=r.text(pm.get("currency"), f"{where}.pay.currency"),
            )
    title = r.text(m.get("title"), f"{where}.title")
    return Profile(
        function=function,
        focus=focus,
        level=level,
        title=title,
        status=r.text(m.get("status"), f"{where}.status"),
        confidence=confidence,
        region=r.text(m.get("region"), f"{where}.region"),
        version=r.text(m.get("version"), f"{where}.version"),
        core_outputs=r.text_list(m.get("core_outputs"), f"{where}.core_outputs"),
        responsibilities=r.text_list(m.get("responsibilities"), f"{where}.responsibilities"),
        rubrics=tuple(rubrics),
        components=components,
        pay=pay,
        where=Located(r.path, line_of(key_node)),
    )


def _focus_file(
    path: Path,
    display: str,
    levels: dict[str, Level | None],
    levels_display: str,
    problems: Collector,
) -> list[Profile]:
    source = read_source(path, display, problems)
    node = parse_source(source, problems) if source else None
    if node is None:
        return []
    r = Reader(display, problems)
    doc = r.mapping(node, "focus file", required=("canon", "function", "focus", "profiles"))
    if doc is None or not _format_version(r, doc, node):
        return []
    function = focus = None
    if "function" in doc:
        fm = r.mapping(doc["function"], "function", required=("code", "name"))
        if fm is not None:
            code, name = (
                r.code(fm.get("code"), "function.code"),
                r.text(fm.get("name"), "function.name"),
            )
            if code and name:
                function = Function(code, name)
    if "focus" in doc:
        fm = r.mapping(doc["focus"], "focus", required=("code", "name"), optional=("description",))
        if fm is not None:
            code, name = r.code(fm.get("code"), "focus.code"), r.text(fm.get("name"), "focus.name")
            description = r.text(fm.get("description"), "focus.description")
            if code and name:
                focus = Focus(code, name, description)
    if function and focus:
        expected = f"{function.code}.{focus.code}.yaml"
        if path.name != expected:
            r.error(
                doc["function"],
                f"file declares {function.code}.{focus.code}; rename the file to '{expected}'",
                "file-name",
            )
    out: list[Profile] = []
    if "profiles" not in doc:
        return out
    for code, key_node, value in r.items(doc["profiles"], "profiles"):
        if not LEVEL_CODE_RE.match(code):
            r.error(
                key_node,
                f"profiles: unknown level code '{code}' (expected {LEVEL_CODES_HINT})",
                "unknown-level",
            )
            continue
        level = levels.get(code)
        if level is None and code in levels:
            r.error(
                key_node,
                f"profiles: level '{code}' is invalid in {levels_display} (see its problems)",
                "unknown-level",
            )
        elif level is None:
            r.error(
                key_node,
                f"profiles: level '{code}' is not defined in {levels_display}",
                "unknown-level",
            )
        if function is None or focus is None or level is None:
            # Still validate the body so every problem of the file is reported in one run.
            _profile(r, code, key_node, value, Function("X", "x"), Focus("X", "x"), _DUMMY_LEVEL)
            continue
        profile = _profile(r, code, key_node, value, function, focus, level)
        if profile is not None:
            out.append(profile)
    return out


_DUMMY_LEVEL = Level("P1", "-", "professional")


def _job_description(path: Path, display: str, problems: Collector) -> JobDescription | None:
    slug = path.stem
    if not SLUG_RE.match(slug) or slug.upper() in RESERVED_NAMES:
        problems.error(
            display,
            1,
            f"'{path.name}' is not a safe job-description file name "
            "(lower-case letters, digits and '-', ending in .yaml)",
            "file-name",
        )
        return None
    source = read_source(path, display, problems)
    return job_description_from_source(source, slug, problems) if source else None


def job_description_from_source(
    source: Source, slug: str, problems: Collector
) -> JobDescription | None:
    """Validate one job-description document; the importer reads its own output back with this."""
    display = source.path
    node = parse_source(source, problems)
    if node is None:
        return None
    r = Reader(display, problems)
    doc = r.mapping(node, "job description", required=("canon", "title"), optional=_JD_KEYS)
    if doc is None or not _format_version(r, doc, node):
        return None
    profile = None
    if "profile" in doc:
        profile = r.text(doc["profile"], "profile")
        if profile is not None and not PROFILE_ID_RE.match(profile):
            r.error(
                doc["profile"],
                f"profile: '{profile}' is not a profile id (FUNCTION.FOCUS.LEVEL, e.g. "
                "CLINIC.CLINICAL90BC.M4)",
                "unsafe-id",
            )
            profile = None
    career = CareerPath()
    if "career_path" in doc:
        cm = r.mapping(
            doc["career_path"],
            "career_path",
            optional=("entry_points", "advancement", "lateral_moves"),
        )
        if cm is not None:
            career = CareerPath(**{k: r.text_list(cm.get(k), f"career_path.{k}") for k in cm})
    edu: dict[str, tuple[str, ...]] = {}
    if "education" in doc:
        em = r.mapping(
            doc["education"], "education", optional=("minimum", "preferred", "fields_of_study")
        )
        if em is not None:
            edu = {k: r.text_list(v, f"education.{k}") for k, v in em.items()}
    exp: dict[str, tuple[str, ...]] = {}
    if "experience" in doc:
        xm = r.mapping(doc["experience"], "experience", optional=("typical", "preferred"))
        if xm is not None:
            exp = {k: r.text_list(v, f"experience.{k}") for k, v in xm.items()}
    title = r.text(doc.get("title"), "title")
    if title is None:
        return None
    return JobDescription(
        slug=slug,
        title=title,
        profile=profile,
        salary=r.text(doc.get("salary"), "salary"),
        tags=r.text_list(doc.get("tags"), "tags"),
        role_definition=r.text_list(doc.get("role_definition"), "role_definition"),
        career_path=career,
        primary_functions=r.text_list(doc.get("primary_functions"), "primary_functions"),
        secondary_functions=r.text_list(doc.get("secondary_functions"), "secondary_functions"),
        hard_skills=r.text_list(doc.get("hard_skills"), "hard_skills"),
        soft_skills=r.text_list(doc.get("soft_skills"), "soft_skills"),
        minimum_education=edu.get("minimum", ()),
        preferred_education=edu.get("preferred", ()),
        fields_of_study=edu.get("fields_of_study", ()),
        typical_experience=exp.get("typical", ()),
        preferred_experience=exp.get("preferred", ()),
        where=Located(display, 1),
    )


def plain(value: Any) -> Any:
    """A record as JSON-able data (without source locations), for digests and JSON output."""
    if is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: plain(getattr(value, f.name))
            for f in fields(value)
            if f.name not in ("where", "job_description")
        }
    if isinstance(value, tuple | list):
        return [plain(v) for v in value]
    if hasattr(value, "value") and hasattr(value, "name") and not isinstance(value, str):
        return value.value  # Enum
    return value


def profile_digest(profile: Profile) -> str:
    """sha256 over the normalized canon records this profile draws on."""
    data = {
        "format": FORMAT_VERSION,
        "profile": plain(profile),
        "job_description": plain(profile.job_description) if profile.job_description else None,
    }
    blob = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _yaml_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())


def load_canon(root: Path | str, *, digests: bool = True) -> Canon:
    """Read, validate and link a canon directory; raise `CanonError` with every problem.

    `digests=False` skips the per-profile digests (`Canon.digests` stays empty): for callers that
    only name profiles, such as `packs list`, which must not pay for hashing every record.
    """
    root = Path(root)
    problems = Collector()
    if not root.is_dir():
        problems.error(str(root), 0, "canon directory not found", "io")
        problems.raise_if_any("no canon")
    levels_path = root / "levels.yaml"
    levels_display = _display(levels_path)
    levels: dict[str, Level | None] = {}
    if levels_path.is_file():
        levels = _levels(levels_path, levels_display, problems)
    else:
        problems.error(levels_display, 0, "missing: every canon needs a levels.yaml", "io")
    profiles: list[Profile] = []
    seen_files: dict[str, str] = {}
    for path in _yaml_files(root / "focuses"):
        display = _display(path)
        found = _focus_file(path, display, levels, levels_display, problems)
        for p in found:
            key = f"{p.function.code}.{p.focus.code}"
            if key in seen_files and seen_files[key] != display:
                problems.error(
                    display, 1, f"{key} is also defined in {seen_files[key]}", "duplicate-id"
                )
                break
            seen_files[key] = display
        else:
            profiles.extend(found)
    jds: list[JobDescription] = []
    linked: dict[str, JobDescription] = {}
    by_id = {p.id: p for p in profiles}
    for path in _yaml_files(root / "job-descriptions"):
        display = _display(path)
        jd = _job_description(path, display, problems)
        if jd is None:
            continue
        jds.append(jd)
        if jd.profile is None:
            continue
        if jd.profile not in by_id:
            if not problems:  # otherwise the profile may only be missing because of those
                problems.error(display, 1, f"profile: '{jd.profile}' is not in the canon", "link")
        elif jd.profile in linked:
            first = linked[jd.profile].where
            problems.error(
                display,
                1,
                f"profile: {jd.profile} already has a job description"
                + (f" ({first.path})" if first else ""),
                "link",
            )
        else:
            linked[jd.profile] = jd
    problems.raise_if_any()
    final = [
        Profile(
            **{
                **{f.name: getattr(p, f.name) for f in fields(p)},
                "job_description": linked.get(p.id),
            }
        )
        for p in sorted(profiles, key=lambda p: p.id)
    ]
    return Canon(
        root=str(root),
        levels=tuple(lv for c in sorted(levels) if (lv := levels[c]) is not None),
        profiles=tuple(final),
        job_descriptions=tuple(jds),
        digests=tuple((p.id, profile_digest(p)) for p in final) if digests else (),
    )
