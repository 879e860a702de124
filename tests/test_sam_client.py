"""SAM.gov's public Exclusions extract (app/domain/exclusion_lists.py import_sam_extract,
app/integrations/sam.py) in the extract's layout, from a local fake of SAM.gov's Data
Services (tests/fake_sam.py): individuals in force only, a malformed file refused whole,
the newest of the days tried; and the scheduled import (workers/jobs.py) fetching both
lists, keeping the version in force when a download fails."""

from __future__ import annotations

import io
import os
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from app import clock, metrics
from app.config import Settings
from app.domain.exclusion_lists import (
    ImportResult,
    MalformedList,
    extract_published_on,
    import_sam_extract,
)
from app.factory import create_app
from app.integrations.sam import extract_name
from app.models import ExclusionEntry
from app.tenancy.context import use_context
from tests import fake_sam, leie_files
from tests.conftest import MSC_SYSTEM
from tests.fake_sam import API_KEY, FakeSam, firm, individual
from workers import jobs

TODAY = date(2026, 12, 11)
PUBLISHED = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def sam() -> Iterator[FakeSam]:
    fake = FakeSam().start()
    yield fake
    fake.stop()


def _people(count: int) -> list[dict[str, str]]:
    return [individual(f"LAST{n:02d}", f"FIRST{n:02d}") for n in range(count)]


def _import(db: Session, path: Path, published_on: date = TODAY) -> ImportResult:
    use_context(db, MSC_SYSTEM)
    return import_sam_extract(db, path, published_on=published_on)


def _snapshot(db: Session) -> list[Any]:
    return [
        *db.execute(text("SELECT id, sha256 FROM exclusion_lists ORDER BY id")),
        *db.execute(
            text("SELECT entry_key, list_id, withdrawn_list_id FROM exclusion_entries ORDER BY 1")
        ),
    ]


def test_the_names_carry_the_day_of_the_year() -> None:
    assert extract_name(date(2026, 12, 1)) == "SAM_Exclusions_Public_Extract_V2_26335.ZIP"
    assert extract_name(date(2027, 1, 5)) == "SAM_Exclusions_Public_Extract_V2_27005.ZIP"
    assert extract_published_on("SAM_Exclusions_Public_Extract_V2_26335.ZIP") == date(2026, 12, 1)
    assert extract_published_on("exclusions.zip") is None


def test_an_extract_keeps_the_individuals_in_force(db: Session, tmp_path: Path) -> None:
    rows = [
        *_people(2),
        individual(
            "SMITH-JONES", "MARY ANN", npi="1234567893", state="TX", active="06/30/2025",
            terminated="12/12/2026",
        ),
        individual("GONE", "TERRY", terminated="12/11/2026"),  # ended on the day: out
        individual("GONE", "LEE", terminated="01/05/2025"),
        firm("ACME MEDICAL LLC", npi="1999999999"),
    ]  # fmt: skip
    result = _import(db, fake_sam.write(tmp_path / "x.ZIP", rows))

    assert (result.source, result.kind, result.entries, result.added) == ("sam", "full", 3, 3)
    names = db.scalars(select(ExclusionEntry.last_name).order_by(ExclusionEntry.last_name)).all()
    assert names == ["LAST00", "LAST01", "SMITH-JONES"]
    mary = db.scalars(select(ExclusionEntry).where(ExclusionEntry.last_name == "SMITH-JONES")).one()
    assert (mary.name_key, mary.npi, mary.state, mary.excluded_on, mary.list_id) == (
        "mary smithjones",
        "1234567893",
        "TX",
        date(2025, 6, 30),
        result.list_id,
    )
    # the same file again is no new version
    again = _import(db, tmp_path / "x.ZIP")
    assert (again.unchanged, again.list_id) == (True, result.list_id)


def test_the_next_extract_withdraws_what_it_no_longer_holds(db: Session, tmp_path: Path) -> None:
    people = _people(3)
    first = _import(db, fake_sam.write(tmp_path / "a.ZIP", people), date(2026, 12, 10))
    second = _import(db, fake_sam.write(tmp_path / "b.ZIP", people[1:]))
    assert (second.entries, second.updated, second.withdrawn) == (2, 2, 1)
    gone = db.scalars(select(ExclusionEntry).where(ExclusionEntry.last_name == "LAST00")).one()
    assert (gone.list_id, gone.withdrawn_list_id, gone.reinstated_on) == (
        first.list_id,
        second.list_id,
        TODAY,
    )


@pytest.mark.parametrize(
    ("content", "line", "reason"),
    [
        (fake_sam.extract([individual("DOE", "JANE", active="2024-03-15")]), 2, "Active Date"),
        (fake_sam.extract([*_people(2), individual("", "JANE")]), 4, "without a Last name"),
        (fake_sam.extract(_people(1), header=fake_sam.COLUMNS[:-3]), 1, "no CAGE, NPI"),
        (fake_sam.extract(_people(2))[:-200], 1, ""),
        (b"Classification,Name\r\n", 1, "not a ZIP"),
    ],
)
def test_a_malformed_extract_is_refused_whole(
    db: Session, tmp_path: Path, content: bytes, line: int, reason: str
) -> None:
    _import(db, fake_sam.write(tmp_path / "a.ZIP", _people(2)), date(2026, 12, 10))
    before = _snapshot(db)
    path = tmp_path / "b.ZIP"
    path.write_bytes(content)
    with pytest.raises(MalformedList) as refused, db.begin_nested():
        _import(db, path)
    assert (refused.value.line, reason in refused.value.reason) == (line, True)
    assert _snapshot(db) == before


def test_a_row_with_another_field_count_is_refused_with_its_line(
    db: Session, tmp_path: Path
) -> None:
    body = io.BytesIO()
    with zipfile.ZipFile(body, "w") as archive:
        header = ",".join(f'"{name}"' for name in fake_sam.COLUMNS)
        row = ",".join(["Individual", "", "", "JANE", "", "DOE"])
        archive.writestr("extract.CSV", f"{header}\r\n{row}\r\n")
    path = tmp_path / "short.ZIP"
    path.write_bytes(body.getvalue())
    with pytest.raises(MalformedList, match="line 2: 6 fields where the header has 31"):
        _import(db, path)


# --- the scheduled job (committed: each source's import is its own transaction) ---------


@pytest.fixture
def leie_site(tmp_path: Path) -> Iterator[str]:
    """A local web server for a directory holding an LEIE file (UPDATED.csv), last
    modified at PUBLISHED."""
    site = tmp_path / "site"
    site.mkdir()
    path = leie_files.write(site / "UPDATED.csv", [leie_files.individual("DOE", "JANE")])
    os.utime(path, (PUBLISHED.timestamp(), PUBLISHED.timestamp()))
    handler = partial(SimpleHTTPRequestHandler, directory=str(site))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/UPDATED.csv"
    server.shutdown()
    server.server_close()


def _job_app(settings: Settings, **changes: Any) -> Flask:
    return create_app(replace(settings, exclusion_retries=1, **changes))


def _failures(source: str) -> float:
    value = metrics.EXCLUSION_FETCH_FAILURES.labels(source=source)._value.get()
    return float(value)


def test_the_job_imports_both_lists_and_keeps_them_when_sam_is_down(
    settings: Settings, sam: FakeSam, leie_site: str, clean_database: None, admin_engine: Engine
) -> None:
    sam.serve({extract_name(date(2026, 12, 9)): fake_sam.extract(_people(3))})
    app = _job_app(settings, leie_full_url=leie_site, sam_extract_url=sam.url, sam_api_key=API_KEY)
    with app.app_context(), clock.frozen(datetime(2026, 12, 11, 6, 30, tzinfo=UTC)):
        results = jobs.import_exclusion_lists()
    assert [(r.source, r.entries, r.unchanged) for r in results] == [
        ("leie", 1, False),
        ("sam", 3, False),
    ]
    # today's and yesterday's extracts not out yet: the one of the day before
    assert sam.asked == [extract_name(date(2026, 12, day)) for day in (11, 10, 9)]
    assert results[1].published_on == date(2026, 12, 9)
    # the file's Last-Modified date is its publication date
    assert results[0].published_on == date(2026, 11, 10)

    sam.down()
    failed_before = _failures("sam")
    with app.app_context(), pytest.raises(RuntimeError, match=r"sam: download failed: .*HTTP 503"):
        jobs.import_exclusion_lists()
    assert _failures("sam") == failed_before + 1
    # no extract on any of the days tried
    sam.serve({})
    failed_before = _failures("sam")
    with (
        app.app_context(),
        clock.frozen(datetime(2026, 12, 11, 6, 30, tzinfo=UTC)),
        pytest.raises(RuntimeError, match="no extract published from 2026-12-08 to 2026-12-11"),
    ):
        jobs.import_exclusion_lists()
    assert len(sam.asked) == 4
    assert _failures("sam") == failed_before + 1
    with admin_engine.connect() as connection:
        versions = connection.execute(
            text("SELECT source, entry_count FROM exclusion_lists ORDER BY source")
        ).all()
        in_force = connection.scalar(
            text("SELECT count(*) FROM exclusion_entries WHERE withdrawn_list_id IS NULL")
        )
    # the LEIE file again: no new version; SAM.gov's extract not had: its last one stays
    assert versions == [("leie", 1), ("sam", 3)]
    assert in_force == 4


def test_a_refused_file_fails_the_job_after_the_sam_import(
    settings: Settings,
    sam: FakeSam,
    leie_site: str,
    clean_database: None,
    admin_engine: Engine,
    tmp_path: Path,
) -> None:
    leie_files.write(
        tmp_path / "site" / "UPDATED.csv",
        [leie_files.individual("DOE", "JANE", excluded="2020-01-01")],
    )
    sam.serve({extract_name(TODAY): fake_sam.extract(_people(2))})
    app = _job_app(settings, leie_full_url=leie_site, sam_extract_url=sam.url, sam_api_key=API_KEY)
    failed_before = _failures("leie")
    with (
        app.app_context(),
        clock.frozen(datetime(2026, 12, 11, 6, 30, tzinfo=UTC)),
        pytest.raises(RuntimeError, match="leie: line 2: EXCLDATE"),
    ):
        jobs.import_exclusion_lists()
    assert _failures("leie") == failed_before + 1
    with admin_engine.connect() as connection:
        assert connection.execute(text("SELECT source FROM exclusion_lists")).all() == [("sam",)]


def test_the_job_refuses_a_file_larger_than_the_limit(
    settings: Settings, leie_site: str, clean_database: None, admin_engine: Engine
) -> None:
    app = _job_app(settings, leie_full_url=leie_site, leie_max_bytes=100)
    failed_before = _failures("leie")
    with app.app_context(), pytest.raises(RuntimeError, match="larger than 100 bytes"):
        jobs.import_exclusion_lists()
    assert _failures("leie") == failed_before + 1
    with admin_engine.connect() as connection:
        assert connection.scalar(text("SELECT count(*) FROM exclusion_lists")) == 0


def test_the_command_imports_an_extract_by_hand_and_refuses_a_bad_one(
    app: Flask, clean_database: None, admin_engine: Engine, tmp_path: Path
) -> None:
    path = fake_sam.write(tmp_path / extract_name(TODAY), _people(2))
    bad = tmp_path / "not-a-zip.ZIP"
    bad.write_bytes(b"PK but not a zip")
    runner = app.test_cli_runner()
    with app.app_context():
        imported = runner.invoke(args=["exclusions", "import-sam-extract", str(path)])
        refused = runner.invoke(
            args=["exclusions", "import-sam-extract", str(bad), "--published-on", "2026-12-12"]
        )
    assert imported.exit_code == 0, imported.output
    # the date from the file's name (its year and day of the year)
    assert imported.stdout.startswith("sam full of 2026-12-11 (")
    assert refused.exit_code == 1 and "not-a-zip.ZIP" in refused.output
    with admin_engine.connect() as connection:
        assert connection.execute(
            text("SELECT source, published_on, entry_count FROM exclusion_lists")
        ).all() == [("sam", TODAY, 2)]
