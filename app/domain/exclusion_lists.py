"""Importing the exclusion lists: the HHS-OIG LEIE's CSV files and SAM.gov's public
Exclusions extracts (a ZIP holding one CSV of every active exclusion).

Each import is one version of its list (an `exclusion_lists` row: source, kind, the date
the source published it, the SHA-256 of the bytes read) and is made in one transaction of
the service's context, which the caller's session holds (TenantContext.system): either
the whole version lands, or nothing does and the current one stays in force.

How a version's rows land: they are read and checked one by one, never the whole file in
memory, and streamed with COPY into `exclusion_import_rows` (the application role may
make no temporary table); one statement then merges them into `exclusion_entries` by
entry key, and the staged rows are removed.

- An entry's identity (`entry_key`): for the LEIE, which has no identifier, the SHA-256
  of its normalised names, business name, NPI, date of birth, exclusion type and date;
  for SAM.gov, whose public extract carries no record identifier either, the SHA-256 of
  the record's classification, names, identifiers (UEI, CAGE, NPI), excluding agency,
  exclusion type and activation date.
- Every entry a version carries gets `list_id` = that version (inserted, or updated).
  A row with a reinstatement date (the LEIE supplement's reinstatements) is recorded
  reinstated on that date and withdrawn by the version (inserted so, when no entry
  matches it); any other row puts its entry in force again.
- A full version withdraws every entry of its source in force that it does not carry
  (`reinstated_on` = its publication date: the LEIE drops reinstated people), unless
  that entry came with a version published after it.

Refused as a whole, nothing written: a malformed or truncated file (the line and the
reason: `MalformedList`), a version older than the newest of its source and kind
(`OlderList`). The same bytes again are no new version: the import reports the version
already there, `unchanged`.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
import uuid
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from app.domain.errors import Conflict, Invalid
from app.integrations.sam import SamRecord
from app.models import ExclusionList

LEIE = "leie"
SAM = "sam"
FULL = "full"
SUPPLEMENT = "supplement"

# The LEIE's columns, in the order of its files (UPDATED.csv and the supplements alike).
LEIE_COLUMNS = (
    "LASTNAME",
    "FIRSTNAME",
    "MIDNAME",
    "BUSNAME",
    "GENERAL",
    "SPECIALTY",
    "UPIN",
    "NPI",
    "DOB",
    "ADDRESS",
    "CITY",
    "STATE",
    "ZIP",
    "EXCLTYPE",
    "EXCLDATE",
    "REINDATE",
    "WAIVERDATE",
    "WVRSTATE",
)
_COLUMN = {name: place for place, name in enumerate(LEIE_COLUMNS)}
# The columns of SAM.gov's public extract (V2) that the lists read; it has more (the
# address, the program, comments...), found by name in its header row.
SAM_EXTRACT_COLUMNS = (
    "Classification",
    "Name",
    "First",
    "Middle",
    "Last",
    "State / Province",
    "Country",
    "Unique Entity ID",
    "Excluding Agency",
    "Exclusion Type",
    "Active Date",
    "Termination Date",
    "CAGE",
    "NPI",
)
# How the extract writes a termination date it does not have.
_SAM_NO_DATE = ("indefinite", "n/a")
# How the LEIE writes "no date" and "no NPI".
_NO_DATE = "00000000"
_NO_NPI = "0000000000"
_EIGHT_DIGITS = re.compile(r"[0-9]{8}")
_TEN_DIGITS = re.compile(r"[0-9]{10}")
_STATE = re.compile(r"[A-Za-z]{2}")
# A publication date in a file's name: UPDATED-2026-11.csv (the month's first day) or
# UPDATED-2026-11-10.csv.
_NAMED_DATE = re.compile(r"(?<![0-9])([0-9]{4})-([0-9]{2})(?:-([0-9]{2}))?(?![0-9])")
# SAM.gov's extract names its day: SAM_Exclusions_Public_Extract_V2_26335.ZIP (YYDDD).
_EXTRACT_DAY = re.compile(r"_([0-9]{5})\.zip$", re.IGNORECASE)
_READ_CHUNK = 1024 * 1024
# How long one statement of an import may take (the scheduled job itself stops after an
# hour: workers/cron.py).
IMPORT_STATEMENT_TIMEOUT = "30min"
IMPORT_WORK_MEM = "64MB"

# Bytes that are not UTF-8 are read as Windows-1252, the encoding of files written by
# desktop tools, rather than refusing a whole month's list for one accented name.
_DECODE_ERRORS = "exclusion-list-cp1252"


def _as_cp1252(error: UnicodeError) -> tuple[str, int]:
    assert isinstance(error, UnicodeDecodeError)
    stray = error.object[error.start : error.end]
    return bytes(stray).decode("cp1252", errors="replace"), error.end


codecs.register_error(_DECODE_ERRORS, _as_cp1252)

# The staging table's columns after list_id and line, in the order rows are written.
_STAGED = (
    "entry_key",
    "last_name",
    "first_name",
    "middle_name",
    "business_name",
    "npi",
    "date_of_birth",
    "state",
    "general",
    "specialty",
    "exclusion_type",
    "excluded_on",
    "reinstated_on",
)
StagedRow = tuple[int, str, Any, Any, Any, Any, Any, Any, Any, Any, Any, Any, Any, Any]


class MalformedList(Invalid):
    """A list file that does not read as the list: refused as a whole."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}", field="file")
        self.line = line
        self.reason = reason


class OlderList(Conflict):
    """A version published before the newest one of its source and kind."""


@dataclass(frozen=True)
class ImportResult:
    """What an import did. `list_id` is the version imported, or (`unchanged`) the one
    already there with the same bytes, in which case nothing changed. `added` and
    `updated` count the entries it carries (new ones, and ones already known);
    `reinstated` those it reinstates; `withdrawn` those a full version no longer
    carries."""

    source: str
    kind: str
    published_on: date
    list_id: uuid.UUID
    sha256: str
    unchanged: bool
    entries: int = 0
    added: int = 0
    updated: int = 0
    reinstated: int = 0
    withdrawn: int = 0

    def __str__(self) -> str:
        name = f"{self.source} {self.kind} of {self.published_on} ({self.sha256[:12]})"
        if self.unchanged:
            return f"{name}: already imported as {self.list_id}, nothing changed"
        return (
            f"{name}: version {self.list_id}, {self.entries} entries"
            f" ({self.added} new, {self.updated} known), {self.reinstated} reinstated,"
            f" {self.withdrawn} withdrawn"
        )


def published_on_from_name(name: str) -> date | None:
    """The publication date a file's name carries (UPDATED-2026-11.csv: 2026-11-01;
    UPDATED-2026-11-10.csv), or None."""
    found = _NAMED_DATE.search(Path(name).name)
    if found is None:
        return None
    year, month, day = found.groups()
    try:
        return date(int(year), int(month), int(day or 1))
    except ValueError:
        return None


def extract_published_on(name: str) -> date | None:
    """The publication date in a SAM.gov extract's name (..._V2_26335.ZIP: 2026's 335th
    day), or None."""
    found = _EXTRACT_DAY.search(Path(name).name)
    if found is None:
        return None
    try:
        return datetime.strptime(found.group(1), "%y%j").date()
    except ValueError:
        return None


def import_leie(session: Session, path: Path, *, kind: str, published_on: date) -> ImportResult:
    """Import the LEIE file at `path`, a full file (UPDATED.csv) or a monthly supplement,
    as the version published on `published_on`."""
    if kind not in (FULL, SUPPLEMENT):
        raise Invalid(f"a LEIE file is {FULL} or {SUPPLEMENT}, not {kind!r}", field="kind")
    # The same file again (a monthly job run twice): known by its digest alone, which
    # takes a fraction of the time reading its rows takes.
    digest = hashlib.sha256()
    with path.open("rb") as raw:
        while chunk := raw.read(_READ_CHUNK):
            digest.update(chunk)
    known = _version_of(session, LEIE, digest.hexdigest())
    if known is not None:
        return ImportResult(LEIE, kind, published_on, known, digest.hexdigest(), unchanged=True)
    digest = hashlib.sha256()
    with path.open("rb") as raw:
        reader = _HashingReader(raw, digest)
        text_stream = io.TextIOWrapper(
            io.BufferedReader(reader, _READ_CHUNK),
            encoding="utf-8-sig",
            errors=_DECODE_ERRORS,
            newline="",
        )
        return _import(
            session,
            source=LEIE,
            kind=kind,
            published_on=published_on,
            rows=_leie_rows(text_stream),
            sha256=digest.hexdigest,
        )


def import_sam_extract(session: Session, path: Path, *, published_on: date) -> ImportResult:
    """Import SAM.gov's public Exclusions extract at `path` (the ZIP as downloaded) as a
    full version published on `published_on`: the exclusions of individuals in force
    that day (no termination date, or one after it)."""
    digest = hashlib.sha256()
    with path.open("rb") as raw:
        while chunk := raw.read(_READ_CHUNK):
            digest.update(chunk)
    sha256 = digest.hexdigest()
    known = _version_of(session, SAM, sha256)
    if known is not None:
        return ImportResult(SAM, FULL, published_on, known, sha256, unchanged=True)
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise MalformedList(1, "not a ZIP file, as SAM.gov's extract is") from None
    with archive:
        members = [info for info in archive.infolist() if not info.is_dir()]
        if len(members) != 1 or not members[0].filename.upper().endswith(".CSV"):
            raise MalformedList(1, "the extract's ZIP holds one CSV file, and this does not")
        with archive.open(members[0]) as member:
            text_stream = io.TextIOWrapper(
                member, encoding="utf-8-sig", errors=_DECODE_ERRORS, newline=""
            )
            return _import(
                session,
                source=SAM,
                kind=FULL,
                published_on=published_on,
                rows=_sam_extract_rows(text_stream, published_on),
                sha256=lambda: sha256,
            )


def _import(
    session: Session,
    *,
    source: str,
    kind: str,
    published_on: date,
    rows: Iterable[StagedRow],
    sha256: Callable[[], str],
) -> ImportResult:
    # A whole list's statements run longer than a request's (the application role's
    # DATABASE_STATEMENT_TIMEOUT_SECONDS).
    session.execute(text(f"SET LOCAL statement_timeout = '{IMPORT_STATEMENT_TIMEOUT}'"))
    # The merge sorts and joins a whole list's rows: in memory rather than on disk.
    session.execute(text(f"SET LOCAL work_mem = '{IMPORT_WORK_MEM}'"))
    # One import of a source at a time: two would each withdraw the other's entries.
    session.execute(select(func.pg_advisory_xact_lock(func.hashtext(f"exclusion-import:{source}"))))
    newest = session.scalar(
        select(func.max(ExclusionList.published_on)).where(
            ExclusionList.source == source, ExclusionList.kind == kind
        )
    )
    if newest is not None and published_on < newest:
        raise OlderList(
            f"this {source} {kind} list was published on {published_on}, before the"
            f" version in force ({newest}): refused",
            field="published_on",
        )
    list_id = uuid.uuid4()
    _stage(session, list_id, rows)
    digest = sha256()
    parameters = {"list": list_id, "source": source, "published_on": published_on}
    known = _version_of(session, source, digest)
    if known is not None:
        session.execute(text(_UNSTAGE), parameters)
        return ImportResult(source, kind, published_on, known, digest, unchanged=True)
    entries, updated = session.execute(text(_COUNT_STAGED), parameters).one()
    if kind == FULL and entries == 0:
        raise MalformedList(1, "a full list that carries no exclusion: refused")
    session.execute(
        insert(ExclusionList).values(
            id=list_id,
            source=source,
            kind=kind,
            published_on=published_on,
            sha256=digest,
            entry_count=entries,
        )
    )
    session.execute(text(_MERGE), parameters)
    reinstated = session.scalar(text(_COUNT_REINSTATED), parameters) or 0
    withdrawn = 0
    if kind == FULL:
        withdrawn = session.execute(text(_WITHDRAW), parameters).rowcount  # type: ignore[attr-defined]
    session.execute(text(_UNSTAGE), parameters)
    return ImportResult(
        source,
        kind,
        published_on,
        list_id,
        digest,
        unchanged=False,
        entries=entries,
        added=entries - updated,
        updated=updated,
        reinstated=reinstated,
        withdrawn=withdrawn,
    )


def _version_of(session: Session, source: str, sha256: str) -> uuid.UUID | None:
    """The version of `source` imported from these bytes, if any."""
    return session.scalar(
        select(ExclusionList.id).where(
            ExclusionList.source == source, ExclusionList.sha256 == sha256
        )
    )


def _stage(session: Session, list_id: uuid.UUID, rows: Iterable[StagedRow]) -> None:
    """COPY the rows into the staging table, as they are read."""
    connection = session.connection().connection.driver_connection
    columns = ", ".join(("list_id", "line", *_STAGED))
    statement = f"COPY exclusion_import_rows ({columns}) FROM STDIN"
    with connection.cursor() as cursor, cursor.copy(statement) as copy:  # type: ignore[union-attr]
        for row in rows:
            copy.write_row((list_id, *row))


_UNSTAGE = "DELETE FROM exclusion_import_rows WHERE list_id = :list"

# The entries the version carries, and how many of them are known already.
_COUNT_STAGED = """
SELECT count(*),
       count(*) FILTER (WHERE EXISTS (SELECT 1 FROM exclusion_entries AS e
                                       WHERE e.source = :source
                                         AND e.entry_key = staged.entry_key))
  FROM (SELECT DISTINCT entry_key FROM exclusion_import_rows WHERE list_id = :list) AS staged
"""

# One row per entry (a file listing an exclusion twice: its last line), then each entry
# inserted or brought up to the version. A person's name key as screening compares it
# (tenancy.name_key); none for an entity. The function costs most of the import's time,
# so an entry already known under the same names keeps the key it has: a month's file
# carries nearly all of the last one's entries again. (A change of the function's rule
# is a migration's, which recomputes the keys.)
_MERGE = """
INSERT INTO exclusion_entries (
    source, entry_key, list_id, last_name, first_name, middle_name, business_name,
    name_key, npi, date_of_birth, state, general, specialty, exclusion_type, excluded_on,
    reinstated_on, withdrawn_list_id)
SELECT DISTINCT ON (s.entry_key)
       :source, s.entry_key, s.list_id, s.last_name, s.first_name, s.middle_name,
       s.business_name,
       CASE WHEN e.first_name = s.first_name AND e.last_name = s.last_name THEN e.name_key
            ELSE tenancy.name_key(s.first_name || ' ' || s.last_name) END,
       s.npi, s.date_of_birth, s.state, s.general, s.specialty, s.exclusion_type,
       s.excluded_on, s.reinstated_on,
       CASE WHEN s.reinstated_on IS NOT NULL THEN s.list_id END
  FROM exclusion_import_rows AS s
  LEFT JOIN exclusion_entries AS e ON e.source = :source AND e.entry_key = s.entry_key
 WHERE s.list_id = :list
 ORDER BY s.entry_key, s.line DESC
ON CONFLICT (source, entry_key) DO UPDATE SET
    list_id = excluded.list_id,
    last_name = excluded.last_name,
    first_name = excluded.first_name,
    middle_name = excluded.middle_name,
    business_name = excluded.business_name,
    name_key = excluded.name_key,
    npi = excluded.npi,
    date_of_birth = excluded.date_of_birth,
    state = excluded.state,
    general = excluded.general,
    specialty = excluded.specialty,
    exclusion_type = excluded.exclusion_type,
    excluded_on = excluded.excluded_on,
    reinstated_on = excluded.reinstated_on,
    withdrawn_list_id = excluded.withdrawn_list_id
"""

_COUNT_REINSTATED = "SELECT count(*) FROM exclusion_entries WHERE withdrawn_list_id = :list"

# The entries of the source in force that the full version does not carry, but those a
# later version brought.
_WITHDRAW = """
UPDATE exclusion_entries AS e
   SET withdrawn_list_id = :list, reinstated_on = :published_on
  FROM exclusion_lists AS l
 WHERE e.source = :source
   AND e.withdrawn_list_id IS NULL
   AND e.list_id <> :list
   AND l.id = e.list_id
   AND l.published_on <= :published_on
"""


class _HashingReader(io.RawIOBase):
    """The file's bytes as read, each also added to `digest`."""

    def __init__(self, raw: IO[bytes], digest: Any) -> None:
        self._raw = raw
        self._digest = digest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        chunk = self._raw.read(len(buffer))
        self._digest.update(chunk)
        buffer[: len(chunk)] = chunk
        return len(chunk)


def _leie_rows(stream: IO[str]) -> Iterator[StagedRow]:
    """The file's rows, checked, as staged rows; MalformedList at the first fault."""
    reader = csv.reader(stream, strict=True)
    try:
        header = next(reader, None)
        if header is None or [name.strip().upper() for name in header] != list(LEIE_COLUMNS):
            raise MalformedList(1, "expected the LEIE header (" + ",".join(LEIE_COLUMNS) + ")")
        for fields in reader:
            if fields == []:
                continue  # a blank line
            if len(fields) != len(LEIE_COLUMNS):
                raise MalformedList(
                    reader.line_num,
                    f"{len(fields)} fields where the LEIE has {len(LEIE_COLUMNS)}",
                )
            yield _leie_row(reader.line_num, fields)
    except csv.Error as exc:
        # a quote left open reads to the end of the file (or past csv's field limit)
        raise MalformedList(
            max(reader.line_num, 1), f"not CSV as the LEIE writes it: {exc}"
        ) from None


def _leie_row(line: int, fields: list[str]) -> StagedRow:
    def value(name: str) -> str | None:
        return " ".join(fields[_COLUMN[name]].split()) or None

    def day(name: str, *, required: bool = False) -> date | None:
        raw = fields[_COLUMN[name]].strip()
        if raw in ("", _NO_DATE) and not required:
            return None
        if not _EIGHT_DIGITS.fullmatch(raw):
            raise MalformedList(line, f"{name} {raw!r} is not a date written YYYYMMDD")
        try:
            return date(int(raw[:4]), int(raw[4:6]), int(raw[6:]))
        except ValueError:
            raise MalformedList(line, f"{name} {raw!r} is not a date") from None

    npi = fields[_COLUMN["NPI"]].strip()
    if not _TEN_DIGITS.fullmatch(npi):
        raise MalformedList(line, f"NPI {npi!r} is not 10 digits")
    state = fields[_COLUMN["STATE"]].strip()
    if state and not _STATE.fullmatch(state):
        raise MalformedList(line, f"STATE {state!r} is not a two-letter code")
    last, first, middle = value("LASTNAME"), value("FIRSTNAME"), value("MIDNAME")
    business = value("BUSNAME")
    if last is None and business is None:
        raise MalformedList(line, "neither LASTNAME nor BUSNAME: no one is named")
    exclusion_type = value("EXCLTYPE")
    if exclusion_type is None:
        raise MalformedList(line, "EXCLTYPE is empty")
    born = day("DOB")
    excluded_on = day("EXCLDATE", required=True)
    reinstated_on = day("REINDATE")
    day("WAIVERDATE")
    known_npi = None if npi == _NO_NPI else npi
    key = _key(last, first, middle, business, known_npi, born, exclusion_type, excluded_on)
    return (
        line,
        key,
        last,
        first,
        middle,
        business,
        known_npi,
        born,
        state.upper() or None,
        value("GENERAL"),
        value("SPECIALTY"),
        exclusion_type,
        excluded_on,
        reinstated_on,
    )


def _sam_extract_rows(stream: IO[str], published_on: date) -> Iterator[StagedRow]:
    """The extract's exclusions of individuals in force on `published_on`, checked, as
    staged rows; MalformedList at the first fault."""
    reader = csv.reader(stream, strict=True)
    try:
        header = next(reader, None)
        names = [name.strip() for name in header or []]
        missing = [name for name in SAM_EXTRACT_COLUMNS if name not in names]
        if missing:
            raise MalformedList(1, "not the extract's header: no " + ", ".join(missing))
        column = {name: names.index(name) for name in SAM_EXTRACT_COLUMNS}
        for fields in reader:
            if fields == []:
                continue  # a blank line
            if len(fields) != len(names):
                raise MalformedList(
                    reader.line_num, f"{len(fields)} fields where the header has {len(names)}"
                )
            record = _sam_extract_record(reader.line_num, fields, column, published_on)
            if record is not None:
                yield _sam_row(reader.line_num, record)
    except csv.Error as exc:
        raise MalformedList(
            max(reader.line_num, 1), f"not CSV as SAM.gov writes it: {exc}"
        ) from None
    except (zipfile.BadZipFile, EOFError) as exc:  # a truncated or damaged ZIP
        raise MalformedList(max(reader.line_num, 1), f"the ZIP does not read: {exc}") from None


def _sam_extract_record(
    line: int, fields: list[str], column: dict[str, int], published_on: date
) -> SamRecord | None:
    """The record on the line, or None for one the lists do not keep: an entity's, or
    an exclusion terminated by `published_on`."""

    def value(name: str) -> str | None:
        return " ".join(fields[column[name]].split()) or None

    def day(name: str) -> date | None:
        raw = fields[column[name]].strip()
        if raw == "" or raw.lower() in _SAM_NO_DATE:
            return None
        try:
            return datetime.strptime(raw, "%m/%d/%Y").date()
        except ValueError:
            raise MalformedList(line, f"{name} {raw!r} is not a date written MM/DD/YYYY") from None

    classification = value("Classification")
    if classification is None:
        raise MalformedList(line, "Classification is empty")
    terminated_on = day("Termination Date")
    activated_on = day("Active Date")
    if classification != "Individual" or (
        terminated_on is not None and terminated_on <= published_on
    ):
        return None
    last = value("Last")
    if last is None:
        raise MalformedList(line, "an individual without a Last name")
    npi = value("NPI")
    state = (value("State / Province") or "").upper()
    return SamRecord(
        classification=classification,
        first_name=value("First"),
        middle_name=value("Middle"),
        last_name=last,
        entity_name=value("Name"),
        uei=value("Unique Entity ID"),
        cage_code=value("CAGE"),
        npi=npi if npi and _TEN_DIGITS.fullmatch(npi) else None,
        excluding_agency=value("Excluding Agency"),
        exclusion_type=value("Exclusion Type"),
        activated_on=activated_on,
        state=state if _STATE.fullmatch(state) and value("Country") in (None, "USA") else None,
    )


def _sam_row(place: int, record: SamRecord) -> StagedRow:
    key = _key(
        record.classification,
        record.last_name,
        record.first_name,
        record.middle_name,
        record.entity_name,
        record.uei,
        record.cage_code,
        record.npi,
        record.excluding_agency,
        record.exclusion_type,
        record.activated_on,
    )
    return (
        place,
        key,
        record.last_name,
        record.first_name,
        record.middle_name,
        record.entity_name,
        record.npi,
        None,  # SAM.gov publishes no date of birth
        record.state,
        None,
        None,
        record.exclusion_type,
        record.activated_on,
        None,  # the extract holds the exclusions in force
    )


def _key(*parts: str | date | None) -> str:
    """The SHA-256 of the identifying fields, normalised: upper case, single spaces,
    dates ISO, absent ones empty."""
    normalised = (
        part.isoformat() if isinstance(part, date) else " ".join((part or "").upper().split())
        for part in parts
    )
    return hashlib.sha256("\x1f".join(normalised).encode()).hexdigest()
