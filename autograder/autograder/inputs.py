"""Finding submissions: per-student folders, LMS zips and flat LMS folders, one job per (student, assignment).

Every top-level entry of the submissions folder (a folder or a file) is read as one *source identity*:

* **Canvas** ``<lastfirst>_[LATE_]<user id>_<attachment id>_<file>``, e.g. ``smithjohn_LATE_1000_52001_01_mdps.ipynb``
  (the user id is Canvas's, the one its gradebook import matches on; a resubmitted file may end in ``-1``, ``-2``);
* **Moodle** ``<Full Name>_<participant id>_assignsubmission_file_<file>``, a file or (the "in folders" download) a
  folder, e.g. ``Chloé Dupont_123458_assignsubmission_file_`` holding ``01_mdps.ipynb``;
* **Blackboard** ``<item>_<username>_attempt_<YYYY-MM-DD-HH-MM-SS>_<file>``, e.g.
  ``Homework 1_jdoe_attempt_2026-01-15-10-30-00_01_mdps.ipynb`` (plus a ``.txt`` receipt per attempt);
* otherwise a **folder** is one student (``alice/01_mdps.ipynb`` or ``alice/01_mdps/01_mdps.ipynb``) and a **file**
  ``<student>_<assignment>.ipynb`` (or ``<student>.ipynb``) is one student.

Two different source identities never share a student id: names are turned into ids (accents folded, characters
outside ``[A-Za-z0-9._@-]`` replaced by ``_``, the LMS user id appended), and ids that still clash get a suffix
derived from the original name, with a flag. When one identity has several notebooks for an assignment (attempts,
resubmissions), the latest attempt is graded and the others are flagged.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

MAX_ZIP_BYTES = 2 * 2**30
STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")

CANVAS = re.compile(r"^(?P<name>.+?)_(?:(?P<late>LATE)_)?(?P<uid>\d+)_(?P<attempt>\d+)_(?P<file>.+)$", re.IGNORECASE)
MOODLE = re.compile(r"^(?P<name>.+)_(?P<uid>\d+)_assignsubmission_(?:file|onlinetext)_(?P<file>.*)$")
BLACKBOARD = re.compile(
    r"^(?P<item>.+)_(?P<user>[^_]+)_attempt_(?P<attempt>\d{4}(?:-\d{2}){5})(?:_(?P<file>.+)|\.txt)$")
RESUBMISSION_SUFFIX = re.compile(r"(?:-\d+| \(\d+\))$")  # Canvas "-1", a browser's " (1)"


class NoSubmissions(SystemExit):
    """Nothing to grade was found: the message says what was expected."""


@dataclass(frozen=True)
class Identity:
    """Who a submitted file belongs to, as the source names them (never merged with another identity)."""

    lms: str  # canvas | moodle | blackboard | folder | file
    key: str  # what identifies the person in the source: the LMS user id or username, else the exact name
    name: str  # the name as written in the source
    lms_id: str = ""


@dataclass(frozen=True)
class Entry:
    """One submitted file."""

    identity: Identity
    path: Path
    filename: str  # the file's own name, LMS prefix removed
    attempt: tuple = ()  # larger is later
    late: bool = False


@dataclass(frozen=True)
class Job:
    """One (student, assignment) to grade; ``path`` is None when no notebook was found (the note says why)."""

    student: str
    assignment: str
    path: str | None
    notes: tuple[str, ...] = ()
    name: str = ""
    lms: str = ""
    lms_id: str = ""
    late: bool = False

    @property
    def note(self) -> str:
        return "; ".join(self.notes)


def parse_name(name: str, is_dir: bool) -> tuple[Identity, str, tuple, bool]:
    """``(identity, file name, attempt order, late)`` for one top-level entry of the submissions folder."""
    if m := MOODLE.match(name):
        ident = Identity("moodle", f"moodle:{m['uid']}", m["name"], m["uid"])
        return ident, m["file"], (), False
    if m := BLACKBOARD.match(name):
        ident = Identity("blackboard", f"blackboard:{m['user']}", m["user"], m["user"])
        return ident, m["file"] or "", (m["attempt"],), False
    if not is_dir and (m := CANVAS.match(name)):
        ident = Identity("canvas", f"canvas:{m['uid']}", m["name"], m["uid"])
        return ident, m["file"], (int(m["attempt"]),), bool(m["late"])
    if is_dir:
        return Identity("folder", f"folder:{name}", name), "", (), False
    return Identity("file", "", ""), name, (), False  # a plain file: the student is found from its assignment


def plain_file_identity(filename: str, assignments: list[str]) -> Identity:
    """``smith_john_01_mdps.ipynb`` -> ``smith_john``: the name is what comes before the assignment's name."""
    stem = RESUBMISSION_SUFFIX.sub("", Path(filename).stem)
    name = stem
    for assignment in sorted(assignments, key=len, reverse=True):
        if stem.endswith(assignment) and stem != assignment:
            name = stem[: -len(assignment)].rstrip("_- ") or stem
            break
    return Identity("file", f"file:{name}", name)


def _visible(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if not p.name.startswith((".", "__MACOSX")))


def submissions_root(folder: Path) -> Path:
    """``folder``, or the single folder it wraps when that one holds the LMS files of two or more submitters (a zip
    of a download folder): read as one student, it would merge the whole class."""
    entries = _visible(folder)
    if len(entries) == 1 and entries[0].is_dir():
        inner = {parse_name(p.name, p.is_dir())[0] for p in _visible(entries[0])}
        if len({i for i in inner if i.lms in ("canvas", "moodle", "blackboard")}) >= 2:
            return submissions_root(entries[0])
    return folder


def scan(folder: Path, assignments: list[str]) -> list[Entry]:
    """Every submitted file under ``folder`` with its identity."""
    entries = []
    for top in _visible(submissions_root(folder)):
        identity, filename, attempt, late = parse_name(top.name, top.is_dir())
        if top.is_dir():
            files = sorted(p for p in top.rglob("*") if p.is_file() and ".ipynb_checkpoints" not in p.parts)
            if not files:
                entries.append(Entry(identity, top, "", attempt, late))  # a student folder with nothing in it
            for path in files:
                entries.append(Entry(identity, path, path.name, attempt, late))
        elif top.is_file():
            if identity.lms == "file":
                identity = plain_file_identity(filename, assignments)
            entries.append(Entry(identity, top, filename or top.name, attempt, late))
    return entries


def slug(text: str) -> str:
    """A file-name-safe id: accents folded, other characters outside ``[A-Za-z0-9._@-]`` replaced by ``_``."""
    if STUDENT_ID.match(text):
        return text
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    cleaned = re.sub(r"[^A-Za-z0-9._@-]", "_", folded).strip("._-")[:90]
    return cleaned or "unnamed"


def student_ids(identities: list[Identity]) -> tuple[dict[Identity, str], dict[Identity, str]]:
    """A distinct id for every identity, and a note for each identity whose id was changed to avoid a clash.

    The id is the slug of the name (plus ``-<LMS user id>`` for LMS files). When two identities still reach the
    same id, the one whose name already is that id keeps it, the others get ``-<6 hex digits of sha1(key)>``.
    """
    wanted: dict[str, list[Identity]] = defaultdict(list)
    for ident in sorted(set(identities), key=lambda i: i.key):
        base = slug(ident.name)
        wanted[f"{base}-{ident.lms_id}" if ident.lms_id and ident.lms_id != ident.name else base].append(ident)
    ids, notes = {}, {}
    for base, group in sorted(wanted.items()):
        if len(group) == 1:
            ids[group[0]] = base
            continue
        keeper = next((i for i in group if i.name == base), None)
        for ident in group:
            ids[ident] = base if ident is keeper else f"{base}-{hashlib.sha1(ident.key.encode()).hexdigest()[:6]}"
        listing = ", ".join(f"{i.name!r} -> {ids[i]}" for i in group)
        for ident in group:
            notes[ident] = f"{len(group)} different submitters have names that map to {base!r}; kept apart as {listing}"
    if len(set(ids.values())) != len(ids):  # cannot happen short of a sha1 collision; never merge silently
        raise SystemExit("student ids clash after disambiguation: " + "; ".join(sorted(set(notes.values()))))
    return ids, notes


def matches(filename: str, assignment: str) -> bool:
    stem = RESUBMISSION_SUFFIX.sub("", Path(filename).stem)
    return filename.endswith(".ipynb") and (stem == assignment or stem.endswith(assignment))


@dataclass
class Found:
    jobs: list[Job]
    clashes: list[str] = field(default_factory=list)


def find_jobs(folder: Path, names: list[str]) -> Found:
    """One job per (source identity, assignment); see the module docstring for the naming patterns."""
    entries = scan(folder, names)
    by_identity: dict[Identity, list[Entry]] = defaultdict(list)
    for entry in entries:
        by_identity[entry.identity].append(entry)
    ids, clash_notes = student_ids(list(by_identity))
    jobs = []
    for ident, own in sorted(by_identity.items(), key=lambda item: ids[item[0]]):
        student = ids[ident]
        base_notes = [clash_notes[ident]] if ident in clash_notes else []
        notebooks = [e for e in own if e.filename.endswith(".ipynb")]
        for name in names:
            candidates = [e for e in notebooks if matches(e.filename, name)]
            notes = list(base_notes)
            if not candidates and len(names) == 1 and len(notebooks) == 1:
                candidates = notebooks
                notes.append(f"misnamed file {notebooks[0].filename} (expected {name}.ipynb); graded anyway")
            meta = {"name": ident.name, "lms": ident.lms, "lms_id": ident.lms_id}
            if not candidates:
                found = ", ".join(e.filename or e.path.name for e in own[:5] if e.filename) or "nothing"
                notes.append(f"no {name}.ipynb found (found: {found})")
                jobs.append(Job(student, name, None, tuple(notes), late=any(e.late for e in own), **meta))
                continue
            # latest attempt first; among equals, an exact file name, then the shortest path
            ordered = sorted(candidates, key=lambda e: (e.attempt, Path(e.filename).stem == name,
                                                        -len(e.path.parts), str(e.path)), reverse=True)
            chosen = ordered[0]
            if len(ordered) > 1:
                others = ", ".join(str(e.path.relative_to(folder)) for e in ordered[1:])
                notes.append(f"{len(ordered)} notebooks for {name}: graded the latest attempt "
                             f"{chosen.path.relative_to(folder)}; not graded: {others}")
            if chosen.late:
                notes.append("late submission (marked LATE by the LMS)")
            jobs.append(Job(student, name, str(chosen.path), tuple(notes), late=chosen.late, **meta))
    return Found(jobs, sorted(set(clash_notes.values())))


def require_notebooks(found: Found, folder: Path, names: list[str]) -> None:
    """Refuse a run in which no notebook at all was found for the assignment(s)."""
    if any(job.path for job in found.jobs):
        return
    listing = sorted(p.name for p in folder.iterdir())[:8] if folder.is_dir() else []
    raise NoSubmissions(
        f"no notebook for {', '.join(names)} found in {folder}. Expected one folder per student "
        f"(alice/{names[0]}.ipynb or alice/{names[0]}/{names[0]}.ipynb), or LMS files such as "
        f"smithjohn_1000_52001_{names[0]}.ipynb (Canvas), 'Chloé Dupont_123458_assignsubmission_file_{names[0]}.ipynb' "
        f"(Moodle), 'Homework 1_jdoe_attempt_2026-01-15-10-30-00_{names[0]}.ipynb' (Blackboard), or a zip of them. "
        f"Found: {', '.join(listing) or 'an empty folder'}."
    )


def extract_zip(archive: Path, target: Path) -> Path:
    """Extract an LMS zip safely (no absolute paths, no ``..``, bounded total size); read it like a folder."""
    with zipfile.ZipFile(archive) as zf:
        total = sum(info.file_size for info in zf.infolist())
        if total > MAX_ZIP_BYTES:
            raise SystemExit(f"{archive}: the archive expands to {total >> 20} MiB, over the limit")
        for info in zf.infolist():
            name = Path(info.filename)
            if name.is_absolute() or ".." in name.parts or info.filename.startswith("__MACOSX"):
                continue
            zf.extract(info, target)
    return target


def content_digest(path: str | None, source: Path) -> str:
    """sha256 of the submitted bytes and of the assignment's source notebook: a result is reused only for both."""
    h = hashlib.sha256(Path(source).read_bytes())
    h.update(b"\0" + (Path(path).read_bytes() if path and Path(path).is_file() else b"<no notebook>"))
    return h.hexdigest()
