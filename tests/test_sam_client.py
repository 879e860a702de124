"""SAM.gov's Exclusions API (app/integrations/sam.py) against a local fake
(tests/fake_sam.py): paging, retries, SAM.gov down leaving the version in force; and the
scheduled import (workers/jobs.py) fetching both lists."""

from __future__ import annotations

import os
import socket
import threading
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

from app import metrics
from app.config import Settings
from app.domain.exclusion_lists import ImportResult, import_sam
from app.factory import create_app
from app.integrations.sam import SamClient, SamUnavailable
from app.models import ExclusionEntry
from app.tenancy.context import use_context
from tests import leie_files
from tests.conftest import MSC_SYSTEM
from tests.fake_sam import API_KEY, FakeSam, individual
from workers import jobs

TODAY = date(2026, 12, 11)
PUBLISHED = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)
RETRIES = 2


@pytest.fixture(scope="module")
def sam() -> Iterator[FakeSam]:
    fake = FakeSam().start()
    yield fake
    fake.stop()


def _people(count: int) -> list[dict[str, Any]]:
    return [individual(f"LAST{n:02d}", f"FIRST{n:02d}") for n in range(count)]


def _client(url: str, *, timeout: float = 2.0, key: str = API_KEY) -> SamClient:
    return SamClient(url, key, timeout_seconds=timeout, retries=RETRIES, backoff_seconds=0.01)


def _pull(db: Session, client: SamClient, published_on: date = TODAY) -> ImportResult:
    use_context(db, MSC_SYSTEM)
    return import_sam(db, client.pull(), published_on=published_on)


def _snapshot(db: Session) -> list[Any]:
    return [
        *db.execute(text("SELECT id, sha256 FROM exclusion_lists ORDER BY id")),
        *db.execute(
            text("SELECT entry_key, list_id, withdrawn_list_id FROM exclusion_entries ORDER BY 1")
        ),
    ]


def test_a_pull_reads_every_page_and_becomes_a_version(db: Session, sam: FakeSam) -> None:
    people = _people(22)
    people.append(
        individual("SMITH-JONES", "MARY ANN", npi="1234567893", state="TX", activated="06-30-2025")
    )
    sam.serve(people)
    result = _pull(db, _client(sam.url))

    assert (result.source, result.kind, result.entries, result.added) == ("sam", "full", 23, 23)
    # three pages of ten, each asked once, for active individuals
    assert sam.requests == {0: 1, 1: 1, 2: 1}
    assert {
        (q["api_key"], q["size"], q["classification"], q["recordStatus"]) for q in sam.queries
    } == {(API_KEY, "10", "Individual", "Active")}
    mary = db.scalars(select(ExclusionEntry).where(ExclusionEntry.last_name == "SMITH-JONES")).one()
    assert (mary.source, mary.name_key, mary.npi, mary.state, mary.excluded_on) == (
        "sam",
        "mary smithjones",
        "1234567893",
        "TX",
        date(2025, 6, 30),
    )
    assert (mary.list_id, mary.date_of_birth, mary.withdrawn_list_id) == (
        result.list_id,
        None,
        None,
    )


def test_the_next_pull_withdraws_what_it_no_longer_holds(db: Session, sam: FakeSam) -> None:
    people = _people(12)
    sam.serve(people)
    first = _pull(db, _client(sam.url), date(2026, 11, 11))
    sam.serve(people[1:])
    second = _pull(db, _client(sam.url))
    assert (second.entries, second.updated, second.withdrawn) == (11, 11, 1)
    gone = db.scalars(select(ExclusionEntry).where(ExclusionEntry.last_name == "LAST00")).one()
    assert (gone.list_id, gone.withdrawn_list_id, gone.reinstated_on) == (
        first.list_id,
        second.list_id,
        TODAY,
    )
    # the same answer again is no new version
    again = _pull(db, _client(sam.url))
    assert (again.unchanged, again.list_id) == (True, second.list_id)


def test_a_page_that_fails_once_is_asked_again(db: Session, sam: FakeSam) -> None:
    sam.serve(_people(15))
    sam.fail_page(1, 1, status=502)
    result = _pull(db, _client(sam.url))
    assert result.entries == 15
    assert sam.requests == {0: 1, 1: 2}


def _sam_down(db: Session, client: SamClient, match: str) -> None:
    before = _snapshot(db)
    with pytest.raises(SamUnavailable, match=match), db.begin_nested():
        _pull(db, client, date(2026, 12, 12))
    assert _snapshot(db) == before


def test_sam_down_leaves_the_last_pull_in_force(db: Session, sam: FakeSam) -> None:
    sam.serve(_people(15))
    _pull(db, _client(sam.url))

    # an error answer on every retry, halfway through
    sam.serve(_people(14))
    sam.fail_page(1, RETRIES + 1, status=503)
    _sam_down(db, _client(sam.url), r"page 1: \w+")
    assert sam.requests[1] == RETRIES + 1
    # too slow, every time
    sam.serve(_people(14))
    sam.fail_page(0, RETRIES + 1, delay=0.6)
    _sam_down(db, _client(sam.url, timeout=0.2), r"page 0: \w+")
    # nothing listening
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}/entity-information/v4/exclusions"
    _sam_down(db, _client(closed), r"page 0: MaxRetryError")
    # a refused key is no passing fault: asked once
    sam.serve(_people(14))
    _sam_down(db, _client(sam.url, key="wrong"), r"page 0: HTTP 403")
    assert sam.requests == {0: 1}


def test_an_answer_that_is_not_the_apis_is_refused(db: Session, sam: FakeSam) -> None:
    sam.serve([{"exclusionDetails": "?"}])
    _sam_down(db, _client(sam.url), "without its exclusionDetails section")


# --- the scheduled job (committed: each source's import is its own transaction) ---------


@pytest.fixture
def empty_lists(admin_engine: Engine) -> Iterator[None]:
    yield
    with admin_engine.begin() as connection:
        connection.execute(
            text("TRUNCATE exclusion_import_rows, exclusion_entries, exclusion_lists CASCADE")
        )


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
    settings: Settings, sam: FakeSam, leie_site: str, empty_lists: None, admin_engine: Engine
) -> None:
    sam.serve(_people(3))
    app = _job_app(
        settings, leie_full_url=leie_site, sam_exclusions_url=sam.url, sam_api_key=API_KEY
    )
    with app.app_context():
        results = jobs.import_exclusion_lists()
    assert [(r.source, r.entries, r.unchanged) for r in results] == [
        ("leie", 1, False),
        ("sam", 3, False),
    ]
    # the file's Last-Modified date is its publication date
    assert results[0].published_on == date(2026, 11, 10)

    sam.down()
    failed_before = _failures("sam")
    with app.app_context(), pytest.raises(RuntimeError, match="sam: page 0"):
        jobs.import_exclusion_lists()
    assert _failures("sam") == failed_before + 1
    with admin_engine.connect() as connection:
        versions = connection.execute(
            text("SELECT source, entry_count FROM exclusion_lists ORDER BY source")
        ).all()
        in_force = connection.scalar(
            text("SELECT count(*) FROM exclusion_entries WHERE withdrawn_list_id IS NULL")
        )
    # the LEIE file again: no new version; SAM.gov down: its last pull stays
    assert versions == [("leie", 1), ("sam", 3)]
    assert in_force == 4


def test_a_refused_file_fails_the_job_after_the_sam_pull(
    settings: Settings,
    sam: FakeSam,
    leie_site: str,
    empty_lists: None,
    admin_engine: Engine,
    tmp_path: Path,
) -> None:
    leie_files.write(
        tmp_path / "site" / "UPDATED.csv",
        [leie_files.individual("DOE", "JANE", excluded="2020-01-01")],
    )
    sam.serve(_people(2))
    app = _job_app(
        settings, leie_full_url=leie_site, sam_exclusions_url=sam.url, sam_api_key=API_KEY
    )
    failed_before = _failures("leie")
    with app.app_context(), pytest.raises(RuntimeError, match="leie: line 2: EXCLDATE"):
        jobs.import_exclusion_lists()
    assert _failures("leie") == failed_before + 1
    with admin_engine.connect() as connection:
        assert connection.execute(text("SELECT source FROM exclusion_lists")).all() == [("sam",)]


def test_the_job_refuses_a_file_larger_than_the_limit(
    settings: Settings, leie_site: str, empty_lists: None, admin_engine: Engine
) -> None:
    app = _job_app(settings, leie_full_url=leie_site, leie_max_bytes=100)
    failed_before = _failures("leie")
    with app.app_context(), pytest.raises(RuntimeError, match="larger than 100 bytes"):
        jobs.import_exclusion_lists()
    assert _failures("leie") == failed_before + 1
    with admin_engine.connect() as connection:
        assert connection.scalar(text("SELECT count(*) FROM exclusion_lists")) == 0
