"""Importing the LEIE (app/domain/exclusion_lists.py): versions, entries by key,
reinstatements, the same file again, an older file, malformed files refused whole; the
command and the monthly schedule."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from redis import Redis
from rq.cron import CronScheduler
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from app.config import Settings
from app.domain.exclusion_lists import (
    FULL,
    SUPPLEMENT,
    ImportResult,
    MalformedList,
    OlderList,
    import_leie,
    published_on_from_name,
)
from app.models import ExclusionEntry, ExclusionList
from app.tenancy.context import use_context
from tests import leie_files
from tests.conftest import MSC_SYSTEM, TwoTenants
from tests.leie_files import entity, individual
from workers import cron

NOVEMBER = date(2026, 11, 10)
DECEMBER = date(2026, 12, 10)

MARY = individual("SMITH-JONES", "MARY ANN", npi="1234567893", dob="19700102", state="TX")
JOHN = individual("PUBLIC", "JOHN", middle="Q", dob="19651231", state="CA")
SEAN = individual("O'BRIEN", "SEAN", exclusion_type="1128a1", excluded="20240301")
SUPPLY = entity("ACME MEDICAL SUPPLY LLC", npi="1999999999")


def _import(db: Session, path: Path, published_on: date, kind: str = FULL) -> ImportResult:
    use_context(db, MSC_SYSTEM)
    return import_leie(db, path, kind=kind, published_on=published_on)


def _entries(db: Session) -> dict[str, ExclusionEntry]:
    """The LEIE's entries by last name, or business name for an entity."""
    db.expire_all()
    rows = db.scalars(select(ExclusionEntry).where(ExclusionEntry.source == "leie")).all()
    return {(row.last_name or row.business_name or ""): row for row in rows}


def test_a_full_file_becomes_a_version_and_its_entries(db: Session, tmp_path: Path) -> None:
    path = leie_files.write(tmp_path / "UPDATED.csv", [MARY, JOHN, SUPPLY])
    result = _import(db, path, NOVEMBER)

    assert (result.unchanged, result.entries, result.added, result.updated) == (False, 3, 3, 0)
    version = db.get(ExclusionList, result.list_id)
    assert version is not None
    assert (version.source, version.kind, version.published_on, version.entry_count) == (
        "leie",
        "full",
        NOVEMBER,
        3,
    )
    assert version.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    entries = _entries(db)
    mary = entries["SMITH-JONES"]
    assert (mary.first_name, mary.name_key, mary.npi, mary.date_of_birth, mary.state) == (
        "MARY ANN",
        "mary smithjones",
        "1234567893",
        date(1970, 1, 2),
        "TX",
    )
    assert (mary.exclusion_type, mary.excluded_on, mary.list_id) == (
        "1128b4",
        date(2020, 1, 15),
        result.list_id,
    )
    assert (mary.reinstated_on, mary.withdrawn_list_id) == (None, None)
    # LEIE's 0000000000 is no NPI; an entity has no name to compare
    assert (entries["PUBLIC"].npi, entries["PUBLIC"].middle_name) == (None, "Q")
    assert (
        entries["ACME MEDICAL SUPPLY LLC"].name_key,
        entries["ACME MEDICAL SUPPLY LLC"].npi,
    ) == (
        None,
        "1999999999",
    )
    # the staging is left empty
    assert db.scalar(text("SELECT count(*) FROM exclusion_import_rows")) == 0


def test_the_next_full_file_updates_what_it_carries_and_withdraws_the_rest(
    db: Session, tmp_path: Path
) -> None:
    first = _import(db, leie_files.write(tmp_path / "a.csv", [MARY, JOHN, SEAN]), NOVEMBER)
    john_again = individual(
        "PUBLIC", "JOHN", middle="Q", dob="19651231", state="NV", specialty="PHARMACY"
    )
    second = _import(db, leie_files.write(tmp_path / "b.csv", [MARY, john_again, SUPPLY]), DECEMBER)

    assert (second.entries, second.added, second.updated, second.withdrawn) == (3, 1, 2, 1)
    entries = _entries(db)
    # the same exclusion (same key), the newer version's fields
    assert (entries["PUBLIC"].list_id, entries["PUBLIC"].state) == (second.list_id, "NV")
    assert entries["PUBLIC"].specialty == "PHARMACY"
    assert entries["ACME MEDICAL SUPPLY LLC"].list_id == second.list_id
    # no longer listed: reinstated on the new version's date, kept as evidence
    sean = entries["O'BRIEN"]
    assert (sean.list_id, sean.withdrawn_list_id, sean.reinstated_on) == (
        first.list_id,
        second.list_id,
        DECEMBER,
    )
    assert entries["SMITH-JONES"].withdrawn_list_id is None


def test_a_supplement_adds_exclusions_and_reinstates(db: Session, tmp_path: Path) -> None:
    full = _import(db, leie_files.write(tmp_path / "full.csv", [MARY, JOHN]), NOVEMBER)
    john_reinstated = individual(
        "PUBLIC", "JOHN", middle="Q", dob="19651231", state="CA", reinstated="20261105"
    )
    unknown_reinstated = individual("DOE", "JANE", reinstated="20261101")
    supplement = _import(
        db,
        leie_files.write(tmp_path / "supp.csv", [SEAN, john_reinstated, unknown_reinstated]),
        DECEMBER,
        SUPPLEMENT,
    )

    assert (supplement.kind, supplement.entries, supplement.added, supplement.updated) == (
        "supplement",
        3,
        2,
        1,
    )
    assert (supplement.reinstated, supplement.withdrawn) == (2, 0)
    entries = _entries(db)
    assert (entries["O'BRIEN"].list_id, entries["O'BRIEN"].withdrawn_list_id) == (
        supplement.list_id,
        None,
    )
    john = entries["PUBLIC"]
    assert (john.reinstated_on, john.withdrawn_list_id) == (date(2026, 11, 5), supplement.list_id)
    # a reinstatement of an exclusion never imported: recorded, not in force
    jane = entries["DOE"]
    assert (jane.reinstated_on, jane.withdrawn_list_id) == (date(2026, 11, 1), supplement.list_id)
    # a supplement withdraws nothing it does not name
    mary = entries["SMITH-JONES"]
    assert (mary.list_id, mary.withdrawn_list_id) == (full.list_id, None)


def test_the_same_file_again_changes_nothing(db: Session, tmp_path: Path) -> None:
    path = leie_files.write(tmp_path / "UPDATED.csv", [MARY, JOHN])
    first = _import(db, path, NOVEMBER)
    again = _import(db, path, DECEMBER)

    assert (again.unchanged, again.list_id, again.sha256) == (True, first.list_id, first.sha256)
    assert "already imported" in str(again)
    assert db.scalar(text("SELECT count(*) FROM exclusion_lists")) == 1
    assert {entry.list_id for entry in _entries(db).values()} == {first.list_id}
    assert db.scalar(text("SELECT count(*) FROM exclusion_import_rows")) == 0


def _snapshot(db: Session) -> list[Any]:
    db.expire_all()
    return [
        *db.execute(text("SELECT id, published_on, sha256 FROM exclusion_lists ORDER BY id")),
        *db.execute(
            text(
                "SELECT entry_key, list_id, withdrawn_list_id, state FROM exclusion_entries"
                " ORDER BY entry_key"
            )
        ),
        *db.execute(text("SELECT list_id, line FROM exclusion_import_rows")),
    ]


def test_a_file_older_than_the_version_in_force_is_refused(db: Session, tmp_path: Path) -> None:
    _import(db, leie_files.write(tmp_path / "dec.csv", [MARY, JOHN]), DECEMBER)
    before = _snapshot(db)
    older = leie_files.write(tmp_path / "nov.csv", [MARY])
    refused = r"published on 2026-11-10, before .* \(2026-12-10\)"
    with pytest.raises(OlderList, match=refused), db.begin_nested():
        _import(db, older, NOVEMBER)
    assert _snapshot(db) == before


def _truncated(path: Path) -> Path:
    """A file cut inside its third data row's quoted city."""
    leie_files.write(path, [MARY, JOHN, SEAN])
    content = path.read_bytes()
    path.write_bytes(content[: content.rindex(b'"AUSTIN') + 4])
    return path


def _lines(path: Path, *rows: list[str]) -> Path:
    return leie_files.write(path, rows)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda p: _lines(p, MARY, JOHN, individual("DOE", "JANE", excluded="20201340")),
            "line 4: EXCLDATE '20201340' is not a date",
        ),
        (
            lambda p: _lines(p, MARY, individual("DOE", "JANE", dob="1970-01-02")),
            "line 3: DOB '1970-01-02' is not a date written YYYYMMDD",
        ),
        (
            lambda p: _lines(p, MARY, JOHN, SEAN, MARY[:17]),
            "line 5: 17 fields where the LEIE has 18",
        ),
        (
            lambda p: _lines(p, individual("DOE", "JANE", npi="123456789")),
            "line 2: NPI '123456789' is not 10 digits",
        ),
        (
            lambda p: _lines(p, MARY, individual("DOE", "JANE", state="T1")),
            "line 3: STATE 'T1' is not a two-letter code",
        ),
        (
            lambda p: _lines(p, MARY, individual("DOE", "JANE", excluded="00000000")),
            "line 3: EXCLDATE '00000000' is not a date",
        ),
        (
            lambda p: leie_files.write(p, [MARY], header=["LAST", "FIRST"]),
            "line 1: expected the LEIE header",
        ),
        (_truncated, "line 4: not CSV as the LEIE writes it: unexpected end of data"),
    ],
    ids=[
        "bad-date",
        "date-format",
        "column-count",
        "npi",
        "state",
        "no-exclusion-date",
        "header",
        "truncated-mid-quote",
    ],
)
def test_a_malformed_file_is_refused_whole_with_its_line(
    db: Session, tmp_path: Path, make: Any, message: str
) -> None:
    _import(db, leie_files.write(tmp_path / "in-force.csv", [MARY, SEAN]), NOVEMBER)
    before = _snapshot(db)
    with pytest.raises(MalformedList) as refused, db.begin_nested():
        _import(db, make(tmp_path / "bad.csv"), DECEMBER)
    assert refused.value.message.startswith(message), refused.value.message
    assert _snapshot(db) == before


def test_a_full_file_without_a_row_is_refused(db: Session, tmp_path: Path) -> None:
    _import(db, leie_files.write(tmp_path / "in-force.csv", [MARY]), NOVEMBER)
    before = _snapshot(db)
    with pytest.raises(MalformedList, match="carries no exclusion"), db.begin_nested():
        _import(db, leie_files.write(tmp_path / "empty.csv", []), DECEMBER)
    assert _snapshot(db) == before


def test_bytes_that_are_not_utf8_are_read_as_windows_1252(db: Session, tmp_path: Path) -> None:
    path = leie_files.write(tmp_path / "UPDATED.csv", [individual("GARCIA", "JOSE")])
    path.write_bytes(path.read_bytes().replace(b'"JOSE"', b'"JOS\xc9"'))
    _import(db, path, NOVEMBER)
    garcia = _entries(db)["GARCIA"]
    assert (garcia.first_name, garcia.name_key) == ("JOSÉ", "jose garcia")


@pytest.mark.parametrize(
    ("name", "published"),
    [
        ("UPDATED-2026-11.csv", date(2026, 11, 1)),
        ("/tmp/UPDATED-2026-11-10.csv", date(2026, 11, 10)),
        ("leie-supplement-2026-12.csv", date(2026, 12, 1)),
        ("UPDATED.csv", None),
        ("UPDATED-2026-13.csv", None),
        ("UPDATED-20261110.csv", None),
    ],
)
def test_the_publication_date_a_name_carries(name: str, published: date | None) -> None:
    assert published_on_from_name(name) == published


# --- the command and the schedule (committed: each transaction is the command's own) ---


def test_the_command_imports_a_file_and_refuses_a_bad_one(
    app: Flask, clean_database: None, admin_engine: Engine, tmp_path: Path
) -> None:
    runner = app.test_cli_runner()
    path = leie_files.write(tmp_path / "UPDATED-2026-11-10.csv", [MARY, JOHN, SUPPLY])
    with app.app_context():
        imported = runner.invoke(args=["exclusions", "import-leie", str(path)])
        again = runner.invoke(args=["exclusions", "import-leie", str(path)])
        bad = leie_files.write(
            tmp_path / "bad.csv", [MARY, individual("DOE", "JANE", excluded="2020011")]
        )
        refused = runner.invoke(
            args=["exclusions", "import-leie", str(bad), "--published-on", "2026-12-10"]
        )
        undated = runner.invoke(args=["exclusions", "import-leie", "--supplement", str(bad)])

    assert imported.exit_code == 0, imported.output
    assert imported.stdout.startswith("leie full of 2026-11-10 (")
    assert "3 entries (3 new, 0 known), 0 reinstated, 0 withdrawn" in imported.stdout
    assert again.exit_code == 0 and "already imported" in again.stdout
    assert refused.exit_code == 1
    assert "bad.csv: line 3: EXCLDATE '2020011' is not a date written YYYYMMDD" in refused.output
    assert undated.exit_code == 1 and "no publication date" in undated.output
    with admin_engine.connect() as connection:
        assert connection.execute(
            text("SELECT kind, published_on, entry_count FROM exclusion_lists")
        ).all() == [("full", NOVEMBER, 3)]


def test_a_new_version_imported_by_hand_is_screened_and_the_same_file_again_is_not(
    app: Flask, seeded: TwoTenants, clean_database: None, admin_engine: Engine, tmp_path: Path
) -> None:
    """Every import that brings a new version screens every active provider against the
    lists then in force (reason list_import): the shared provider, listed by NPI, is an
    exclusion at both organizations they work for."""
    provider = seeded.shared_provider
    assert provider.npi
    listed = individual("QUILL", "ROBIN", npi=provider.npi)
    path = leie_files.write(tmp_path / "UPDATED-2026-11-10.csv", [listed, MARY])
    runner = app.test_cli_runner()
    with app.app_context():
        for _ in range(2):
            assert runner.invoke(args=["exclusions", "import-leie", str(path)]).exit_code == 0
    with admin_engine.connect() as connection:
        screenings = connection.execute(
            text(
                "SELECT organization_id, reason, outcome FROM provider_screenings"
                " WHERE user_id = :u"
            ),
            {"u": provider.id},
        ).all()
    assert sorted(map(tuple, screenings)) == sorted(
        [
            (seeded.a.organization.id, "list_import", "excluded"),
            (seeded.b.organization.id, "list_import", "excluded"),
        ]
    )


def _registered(settings: Settings) -> dict[str, Any]:
    scheduler = CronScheduler(Redis())  # registering jobs connects to nothing
    cron.register(scheduler, settings)
    return {job.func_name.rsplit(".", 1)[1]: job for job in scheduler.get_jobs()}


def test_the_import_is_scheduled_monthly_when_a_source_is_set(settings: Settings) -> None:
    assert "import_exclusion_lists" not in _registered(settings)
    for source in ({"leie_full_url": "http://127.0.0.1:1/UPDATED.csv"}, {"sam_api_key": "k"}):
        job = _registered(replace(settings, **source))["import_exclusion_lists"]
        # the 11th of each month, the LEIE being republished by the 10th
        assert (job.cron, job.job_options["job_timeout"]) == (
            "30 6 11 * *",
            cron.EXCLUSION_IMPORT_TIMEOUT_SECONDS,
        )
