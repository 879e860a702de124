"""Reads of sensitive data in the audit trail (access events), and the trail's export.

Each audited read writes exactly one event, in its own transaction, with the actor and
request id of the request, filed under the organization whose data was read; reads
inside one's own organization write none; the events are read by that organization's
admins and no one else's; nobody records an access into a trail outside their reach; a
read that fails leaves no event, and a read whose event cannot be written fails. The
export gives back exactly the caller's events of the range, as CSV or NDJSON, streamed.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import psycopg.errors
import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from werkzeug.datastructures import Headers
from werkzeug.test import EnvironBuilder, TestResponse

from app import clock
from app.config import Settings
from app.domain.audit_trail import BATCH
from app.factory import create_app
from app.models import Organization, User, access_records
from app.models.audit_event import NO_ORGANIZATION_ID
from app.tenancy.context import TenantContext, use_context
from tests.api_helpers import child_organization, committed_credential, committed_provider
from tests.conftest import TwoTenants, bearer, token_for

ADMIN = "/api/v1/admin"
EXPORT = f"{ADMIN}/audit-events/export"
PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"
LICENSE = {
    "credential_type": "medical_license",
    "state": "TX",
    "number": "TX-12345",
    "issuer": "Texas Medical Board",
    "expiry_date": str(clock.today() + dt.timedelta(days=400)),
}


@pytest.fixture
def api(settings: Settings, tmp_path: Path, clean_database: None) -> Iterator[FlaskClient]:
    """The API, its documents kept under a folder of the test's own."""
    app = create_app(replace(settings, document_storage_path=tmp_path / "documents"))
    yield app.test_client()
    app.extensions["services"].close()


def _get(api: FlaskClient, url: str, token: str, request_id: str) -> TestResponse:
    response = api.get(url, headers={**bearer(token), "X-Request-ID": request_id}, buffered=True)
    return response


def _upload(api: FlaskClient, url: str, token: str, document_type: str) -> str:
    form: dict[str, Any] = {
        "file": (io.BytesIO(PDF), "copy.pdf", "application/pdf"),
        "document_type": document_type,
    }
    response = api.post(url, data=form, headers=bearer(token), content_type="multipart/form-data")
    assert response.status_code == 201, response.get_json()
    document_id: str = response.get_json()["id"]
    return document_id


def _accesses(admin_engine: Engine, request_id: str) -> list[tuple[Any, ...]]:
    """The access events of the request that sent `request_id`: (organization, actor,
    cross-tenant, table, row, purpose), the organization None for none."""
    with admin_engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT nullif(organization_id, :none), actor_user_id, cross_tenant,"
                " table_name, row_id, purpose FROM audit_events"
                " WHERE action = 'access' AND request_id = :r ORDER BY organization_id"
            ),
            {"r": f"client:{request_id}", "none": NO_ORGANIZATION_ID},
        ).all()
    return [tuple(row) for row in rows]


def _access_count(admin_engine: Engine) -> int:
    with admin_engine.connect() as conn:
        count: int = conn.scalar(text("SELECT count(*) FROM audit_events WHERE action = 'access'"))
        return count


def _membership_id(admin_engine: Engine, user: User, organization: Organization) -> uuid.UUID:
    with admin_engine.connect() as conn:
        found: uuid.UUID = conn.scalar(
            text("SELECT id FROM memberships WHERE user_id = :u AND organization_id = :o"),
            {"u": user.id, "o": organization.id},
        )
        return found


def test_each_audited_read_writes_exactly_one_event_in_the_datas_organization(
    api: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    a, b, provider, msc = seeded.a, seeded.b, seeded.shared_provider, seeded.msc_admin
    child, _child_admin = child_organization(admin_engine, a.organization)
    child_provider = committed_provider(admin_engine, child)
    a_admin = token_for(api, a.admin)
    b_admin = token_for(api, b.admin)
    msc_admin = token_for(api, msc)
    provider_at_b = token_for(api, provider, b.organization)

    tax_form = _upload(
        api, f"{ADMIN}/organizations/{a.organization.id}/documents", a_admin, "tax_form"
    )
    license_copy = _upload(api, "/api/v1/me/documents", provider_at_b, "license_copy")
    credential = api.post("/api/v1/me/credentials", json=LICENSE, headers=bearer(provider_at_b))
    assert credential.status_code == 201
    credential_id = uuid.UUID(credential.get_json()["id"])
    child_credential = committed_credential(admin_engine, child_provider)
    a_member = _membership_id(admin_engine, provider, a.organization)
    child_member = _membership_id(admin_engine, child_provider, child)
    provider_credentials = f"{ADMIN}/providers/{provider.id}/credentials"
    organization = f"{ADMIN}/organizations/{a.organization.id}"
    access = "documents", "credentials", "users", "memberships", "organizations"
    documents, credentials, users, memberships, organizations = access

    # (who reads, what, by whom: (organization, actor, cross-tenant, table, row, purpose))
    reads: list[tuple[str, str, tuple[Any, ...]]] = [
        (
            a_admin,
            f"/api/v1/documents/{tax_form}/content",
            (
                a.organization.id,
                a.admin.id,
                False,
                documents,
                uuid.UUID(tax_form),
                "document_download",
            ),
        ),
        (
            msc_admin,
            f"/api/v1/documents/{tax_form}/content",
            (a.organization.id, msc.id, True, documents, uuid.UUID(tax_form), "document_download"),
        ),
        # a provider's document: the organization the reader reaches the provider through
        (
            provider_at_b,
            f"/api/v1/documents/{license_copy}/content",
            (
                b.organization.id,
                provider.id,
                False,
                documents,
                uuid.UUID(license_copy),
                "document_download",
            ),
        ),
        (
            a_admin,
            f"/api/v1/documents/{license_copy}/content",
            (
                a.organization.id,
                a.admin.id,
                False,
                documents,
                uuid.UUID(license_copy),
                "document_download",
            ),
        ),
        (
            msc_admin,
            f"/api/v1/documents/{license_copy}/content",
            (None, msc.id, True, documents, uuid.UUID(license_copy), "document_download"),
        ),
        (
            a_admin,
            f"{organization}/fhir",
            (a.organization.id, a.admin.id, False, organizations, a.organization.id, "fhir_export"),
        ),
        (
            a_admin,
            f"{organization}/analytics",
            (
                a.organization.id,
                a.admin.id,
                False,
                organizations,
                a.organization.id,
                "analytics_export",
            ),
        ),
        (
            a_admin,
            f"{organization}/analytics?format=csv",
            (
                a.organization.id,
                a.admin.id,
                False,
                organizations,
                a.organization.id,
                "analytics_export",
            ),
        ),
        (
            msc_admin,
            f"{provider_credentials}/{credential_id}",
            (None, msc.id, True, credentials, credential_id, "credential_read"),
        ),
        (
            msc_admin,
            provider_credentials,
            (None, msc.id, True, users, provider.id, "credential_list"),
        ),
        # an admin of the parent organization reads the child's provider
        (
            a_admin,
            f"{ADMIN}/providers/{child_provider.id}/credentials/{child_credential}",
            (child.id, a.admin.id, False, credentials, child_credential, "credential_read"),
        ),
        (
            a_admin,
            f"{ADMIN}/providers/{child_provider.id}/credentials",
            (child.id, a.admin.id, False, users, child_provider.id, "credential_list"),
        ),
        (
            msc_admin,
            f"{ADMIN}/members/{a_member}",
            (a.organization.id, msc.id, True, memberships, a_member, "member_read"),
        ),
        (
            a_admin,
            f"{ADMIN}/members/{child_member}",
            (child.id, a.admin.id, False, memberships, child_member, "member_read"),
        ),
        (
            b_admin,
            f"{EXPORT}?from={clock.today()}&to={clock.today()}&format=ndjson",
            (
                b.organization.id,
                b.admin.id,
                False,
                organizations,
                b.organization.id,
                "audit_export",
            ),
        ),
    ]
    for number, (token, url, event) in enumerate(reads):
        request_id = f"read-{number}"
        response = _get(api, url, token, request_id)
        assert response.status_code == 200, (url, response.get_json())
        assert _accesses(admin_engine, request_id) == [event], url

    # MSC's breakdown of every organization: one event in each one's trail
    response = _get(api, f"{ADMIN}/analytics?format=csv", msc_admin, "breakdown")
    assert response.status_code == 200
    shown = {uuid.UUID(row["organization_id"]) for row in _csv_rows(response)}
    assert shown == {a.organization.id, b.organization.id, child.id}
    assert _accesses(admin_engine, "breakdown") == sorted(
        (o, msc.id, True, organizations, o, "analytics_breakdown_export") for o in shown
    )
    # the door keeps nothing itself
    with admin_engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM access_records")) == 0


def test_reads_inside_the_datas_organization_write_no_event(
    api: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    a, provider = seeded.a, seeded.shared_provider
    a_admin = token_for(api, a.admin)
    provider_at_a = token_for(api, provider, a.organization)
    created = api.post("/api/v1/me/credentials", json=LICENSE, headers=bearer(provider_at_a))
    credential_id = created.get_json()["id"]
    credentials = f"{ADMIN}/providers/{provider.id}/credentials"
    reads = [
        (a_admin, f"{ADMIN}/members/{_membership_id(admin_engine, provider, a.organization)}"),
        (a_admin, f"{credentials}/{credential_id}"),
        (a_admin, credentials),
        # the provider's own credential
        (provider_at_a, f"/api/v1/me/credentials/{credential_id}"),
        # a screen, not an export
        (a_admin, f"{ADMIN}/organizations/{a.organization.id}/dashboard"),
    ]
    for token, url in reads:
        assert _get(api, url, token, "inside").status_code == 200, url
    assert _access_count(admin_engine) == 0


def test_an_access_is_read_by_its_organizations_admin_and_no_other_tenant(
    api: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    a, b = seeded.a, seeded.b
    a_admin, b_admin = token_for(api, a.admin), token_for(api, b.admin)
    tax_form = _upload(
        api, f"{ADMIN}/organizations/{a.organization.id}/documents", a_admin, "tax_form"
    )
    assert (
        _get(
            api, f"/api/v1/documents/{tax_form}/content", token_for(api, seeded.msc_admin), "seen"
        ).status_code
        == 200
    )

    listed = api.get(f"{ADMIN}/audit-events?action=access", headers=bearer(a_admin))
    assert listed.status_code == 200
    [event] = listed.get_json()
    assert event["row_id"] == tax_form and event["purpose"] == "document_download"
    assert event["actor_user_id"] == str(seeded.msc_admin.id) and event["cross_tenant"]
    assert event["request_id"] == "client:seen" and event["changes"] == {}
    by_purpose = api.get(f"{ADMIN}/audit-events?purpose=document_download", headers=bearer(a_admin))
    assert [e["id"] for e in by_purpose.get_json()] == [event["id"]]

    other = api.get(f"{ADMIN}/audit-events?action=access", headers=bearer(b_admin))
    assert other.status_code == 200 and other.get_json() == []
    # the dashboard's recent activity is what was done, not who looked
    dashboard = api.get(
        f"{ADMIN}/organizations/{a.organization.id}/dashboard", headers=bearer(a_admin)
    )
    assert "access" not in {
        activity["action"] for activity in dashboard.get_json()["recent_activity"]
    }


def test_nobody_records_an_access_in_a_trail_outside_their_reach(
    db: Session, tenants: TwoTenants
) -> None:
    """The application role records accesses through `access_records` alone, for the
    organizations its context reaches; the actor, the request id and the cross-tenant
    flag are the context's."""
    a, b = tenants.a, tenants.b

    def record(organization_id: uuid.UUID, purpose: str = "document_download") -> None:
        with db.begin_nested():
            db.execute(
                access_records.insert().values(
                    organization_id=organization_id,
                    table_name="documents",
                    row_id=uuid.uuid4(),
                    purpose=purpose,
                )
            )

    def refused(organization_id: uuid.UUID) -> bool:
        try:
            record(organization_id)
        except DBAPIError as error:
            assert isinstance(error.orig, psycopg.errors.InsufficientPrivilege), error
            return True
        return False

    use_context(db, replace(a.context(), request_id="req-own"))
    assert refused(b.organization.id)
    assert refused(NO_ORGANIZATION_ID)
    assert not refused(a.organization.id)
    events = db.execute(
        text(
            "SELECT organization_id, actor_user_id, cross_tenant, request_id FROM audit_events"
            " WHERE action = 'access'"
        )
    ).all()
    assert [tuple(e) for e in events] == [(a.organization.id, a.admin.id, False, "req-own")]
    # a purpose is a name, never text that would pass for more than one
    with pytest.raises(DBAPIError, match="ck_audit_events_purpose_name"):
        record(a.organization.id, purpose='read", "by": "someone else')

    use_context(db, TenantContext())
    assert refused(a.organization.id)

    msc = TenantContext(user_id=uuid.uuid4(), is_msc_admin=True, request_id="req-msc")
    use_context(db, msc)
    assert not refused(b.organization.id)
    marked = db.execute(
        text("SELECT cross_tenant FROM audit_events WHERE request_id = 'req-msc'")
    ).scalar_one()
    assert marked is True


def _switch_the_door(admin_engine: Engine, switch: str) -> None:
    with admin_engine.begin() as conn:
        # what a Citus cluster asks before it touches a distributed table's triggers (a
        # setting plain PostgreSQL keeps and ignores)
        conn.execute(text("SET LOCAL citus.enable_unsafe_triggers = on"))
        conn.execute(text(f"ALTER TABLE access_records {switch} TRIGGER access_records_record"))


def test_a_failed_read_leaves_no_event_and_a_read_whose_event_fails_fails(
    api: FlaskClient, seeded: TwoTenants, admin_engine: Engine, tmp_path: Path
) -> None:
    a, b = seeded.a, seeded.b
    a_admin = token_for(api, a.admin)
    tax_form = _upload(
        api, f"{ADMIN}/organizations/{a.organization.id}/documents", a_admin, "tax_form"
    )
    content = f"/api/v1/documents/{tax_form}/content"

    # the event cannot be written: the door's trigger is off, and its policy takes no row
    _switch_the_door(admin_engine, "DISABLE")
    try:
        refused = _get(api, content, a_admin, "unrecorded")
    finally:
        _switch_the_door(admin_engine, "ENABLE")
    assert refused.status_code >= 400 and PDF not in refused.get_data()

    for stored in (tmp_path / "documents").rglob("*"):
        if stored.is_file():
            stored.unlink()
    assert _get(api, content, a_admin, "missing").status_code == 500
    assert (
        _get(api, f"{ADMIN}/organizations/{b.organization.id}/fhir", a_admin, "foreign").status_code
        == 404
    )
    assert _get(api, f"{EXPORT}?from=2026-01-02&to=2026-01-01", a_admin, "bad").status_code == 422
    assert _access_count(admin_engine) == 0


# --- the export --------------------------------------------------------------------


def _csv_rows(response: TestResponse) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def _ndjson_rows(response: TestResponse) -> list[dict[str, Any]]:
    return [json.loads(line) for line in response.get_data(as_text=True).splitlines()]


def _event(
    conn: Any, organization_id: uuid.UUID, occurred_at: dt.datetime, **columns: Any
) -> uuid.UUID:
    """An event of the trail, as the triggers would write it, at `occurred_at`."""
    values = {
        "table_name": "facilities",
        "request_id": None,
        "changes": json.dumps({"name": {"old": "Before", "new": "After"}}),
        **columns,
    }
    event_id: uuid.UUID = conn.scalar(
        text(
            "INSERT INTO audit_events (organization_id, action, table_name, row_id, changes,"
            " request_id, occurred_at)"
            " VALUES (:o, 'update', :table_name, gen_random_uuid(), CAST(:changes AS jsonb),"
            " :request_id, :at) RETURNING id"
        ),
        {"o": organization_id, "at": occurred_at, **values},
    )
    return event_id


def _at(day: dt.date, hour: int = 0, minute: int = 0, second: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=dt.UTC)


def test_the_export_holds_the_callers_events_of_the_range_in_csv_and_ndjson(
    api: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    a, b = seeded.a, seeded.b
    child, _ = child_organization(admin_engine, a.organization)
    first = clock.today() - dt.timedelta(days=40)
    last = first + dt.timedelta(days=5)
    with admin_engine.begin() as conn:
        inside = [
            _event(conn, a.organization.id, _at(first)),
            _event(conn, child.id, _at(first, 12)),
            # a cell a spreadsheet would take for a formula
            _event(conn, a.organization.id, _at(first, 13), table_name='=HYPERLINK("x")'),
            _event(conn, a.organization.id, _at(last, 23, 59, 59), request_id="-2+3"),
        ]
        for outside in (
            _at(first - dt.timedelta(days=1), 23, 59, 59),
            _at(last + dt.timedelta(days=1)),
        ):
            _event(conn, a.organization.id, outside)
        _event(conn, b.organization.id, _at(first, 12))
    token = token_for(api, a.admin)
    url = f"{EXPORT}?from={first}&to={last}"

    as_csv = _get(api, f"{url}&format=csv", token, "export-csv")
    assert as_csv.status_code == 200 and as_csv.mimetype == "text/csv"
    assert as_csv.headers["Content-Disposition"] == (
        f'attachment; filename="audit-events-{first}-{last}.csv"'
    )
    rows = _csv_rows(as_csv)
    assert [uuid.UUID(r["id"]) for r in rows] == inside  # oldest first
    assert list(rows[0]) == [
        "id", "organization_id", "actor_user_id", "cross_tenant", "action", "table_name",
        "row_id", "purpose", "changes", "request_id", "occurred_at",
    ]  # fmt: skip
    assert rows[0]["organization_id"] == str(a.organization.id)
    assert rows[1]["organization_id"] == str(child.id)
    assert json.loads(rows[0]["changes"]) == {"name": {"old": "Before", "new": "After"}}
    assert rows[2]["table_name"] == '\'=HYPERLINK("x")'
    assert rows[3]["request_id"] == "'-2+3"

    as_ndjson = _get(api, f"{url}&format=ndjson", token, "export-ndjson")
    assert as_ndjson.status_code == 200 and as_ndjson.mimetype == "application/x-ndjson"
    assert as_ndjson.headers["Content-Disposition"].endswith('.ndjson"')
    lines = _ndjson_rows(as_ndjson)
    assert [uuid.UUID(line["id"]) for line in lines] == inside
    assert lines[2]["table_name"] == '=HYPERLINK("x")'  # JSON holds it as it is
    assert lines[0]["changes"] == {"name": {"old": "Before", "new": "After"}}

    # one organization of the caller's: its events alone
    only_child = _get(api, f"{url}&format=ndjson&organization_id={child.id}", token, "export-child")
    assert [line["id"] for line in _ndjson_rows(only_child)] == [str(inside[1])]
    # each export is an access: the latest day holds them
    today = _get(
        api, f"{EXPORT}?from={clock.today()}&to={clock.today()}&format=ndjson", token, "today"
    )
    exports = [e for e in _ndjson_rows(today) if e["purpose"] == "audit_export"]
    assert {e["request_id"] for e in exports} == {
        "client:export-csv", "client:export-ndjson", "client:export-child", "client:today"
    }  # fmt: skip


def test_msc_admins_export_one_organizations_trail(
    api: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    a, b = seeded.a, seeded.b
    day = clock.today() - dt.timedelta(days=3)
    with admin_engine.begin() as conn:
        of_b = _event(conn, b.organization.id, _at(day, 9))
        _event(conn, a.organization.id, _at(day, 9))
    msc = token_for(api, seeded.msc_admin)
    url = f"{EXPORT}?from={day}&to={day}&format=ndjson"
    response = _get(api, f"{url}&organization_id={b.organization.id}", msc, "msc-export")
    assert response.status_code == 200
    assert [line["id"] for line in _ndjson_rows(response)] == [str(of_b)]
    assert _accesses(admin_engine, "msc-export") == [
        (
            b.organization.id,
            seeded.msc_admin.id,
            True,
            "organizations",
            b.organization.id,
            "audit_export",
        )
    ]
    unnamed = _get(api, url, msc, "msc-unnamed")
    assert unnamed.status_code == 422
    assert "organization_id" in unnamed.get_json()["errors"]["json"]
    # an organization admin names only organizations they act for
    foreign = _get(
        api, f"{url}&organization_id={b.organization.id}", token_for(api, a.admin), "foreign"
    )
    assert foreign.status_code == 404
    assert _accesses(admin_engine, "msc-unnamed") == _accesses(admin_engine, "foreign") == []


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("to=2026-01-31", "from"),
        ("from=2026-01-01", "to"),
        ("from=2026-02-30&to=2026-03-01", "from"),
        ("from=2026-01-01&to=yesterday", "to"),
        ("from=2026-01-02&to=2026-01-01", "from"),
        ("from=2025-01-01&to=2026-01-02", "to"),  # 366 days and one
        ("from=1900-01-01&to=2026-01-02", "from"),
        ("from=2026-01-01&to=2026-01-31&format=xlsx", "format"),
        ("from=2026-01-01&to=2026-01-31&organization_id=42", "organization_id"),
    ],
)
def test_bad_export_parameters_are_422_naming_the_field(
    api: FlaskClient, seeded: TwoTenants, query: str, field: str
) -> None:
    response = api.get(f"{EXPORT}?{query}", headers=bearer(token_for(api, seeded.a.admin)))
    assert response.status_code == 422
    assert set(response.get_json()["errors"]["query"]) == {field}


def test_the_trail_lists_the_events_of_a_range_of_days(
    api: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    a = seeded.a
    first = clock.today() - dt.timedelta(days=40)
    last = first + dt.timedelta(days=5)
    with admin_engine.begin() as conn:
        before = _event(conn, a.organization.id, _at(first - dt.timedelta(days=1), 23, 59, 59))
        inside = [
            _event(conn, a.organization.id, _at(first)),
            _event(conn, a.organization.id, _at(last, 23, 59, 59)),
        ]
        after = _event(conn, a.organization.id, _at(last + dt.timedelta(days=1)))
    token = token_for(api, a.admin)

    def listed(days: str) -> list[uuid.UUID]:
        url = f"{ADMIN}/audit-events?action=update&table_name=facilities&{days}"
        response = api.get(url, headers=bearer(token))
        assert response.status_code == 200, response.get_json()
        return [uuid.UUID(event["id"]) for event in response.get_json()]

    # newest first, as the whole trail
    assert listed(f"from={first}&to={last}") == inside[::-1]
    assert listed(f"from={first}") == [after, *inside[::-1]]
    assert listed(f"to={last}") == [*inside[::-1], before]
    assert listed(f"from={first}&to={first}") == inside[:1]
    backwards = api.get(f"{ADMIN}/audit-events?from={last}&to={first}", headers=bearer(token))
    assert backwards.status_code == 422
    assert set(backwards.get_json()["errors"]["query"]) == {"from"}
    far = api.get(f"{ADMIN}/audit-events?to=1900-01-01", headers=bearer(token))
    assert far.status_code == 422
    assert set(far.get_json()["errors"]["query"]) == {"to"}


def test_a_year_is_the_longest_export(api: FlaskClient, seeded: TwoTenants) -> None:
    token = token_for(api, seeded.a.admin)
    leap_year = api.get(f"{EXPORT}?from=2024-01-01&to=2024-12-31", headers=bearer(token))
    assert leap_year.status_code == 200


def test_a_large_export_is_streamed_in_batches_and_recorded_before_it_ends(
    api: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    """The events are read a batch at a time as the body is sent; the access is
    committed before the last chunk leaves, and kept when the client goes away midway
    (it was sent part of the trail); a response dropped before anything was sent
    records nothing."""
    a = seeded.a
    day = clock.today() - dt.timedelta(days=2)
    count = 2 * BATCH + 500
    with admin_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO audit_events"
                " (organization_id, action, table_name, row_id, occurred_at)"
                " SELECT :o, 'update', 'facilities', gen_random_uuid(),"
                "        :at + n * interval '1 second' FROM generate_series(1, :n) n"
            ),
            {"o": a.organization.id, "at": _at(day), "n": count},
        )
    token = token_for(api, a.admin)
    url = f"{EXPORT}?from={day}&to={day}&format=csv"

    whole = api.get(url, headers={**bearer(token), "X-Request-ID": "whole"})
    assert whole.is_streamed
    chunks = list(whole.iter_encoded())
    whole.close()
    assert len(chunks) == 3  # a chunk a batch, the header with the first
    body = b"".join(chunks).decode()
    assert len(list(csv.DictReader(io.StringIO(body)))) == count
    assert len(_accesses(admin_engine, "whole")) == 1

    partial = api.get(url, headers={**bearer(token), "X-Request-ID": "partial"})
    next(partial.iter_encoded())
    partial.close()
    assert len(_accesses(admin_engine, "partial")) == 1

    # straight through WSGI: the test client would take the first chunk at once
    environ = EnvironBuilder(url, headers=Headers({**bearer(token), "X-Request-ID": "unsent"}))
    unsent = api.application(environ.get_environ(), lambda *_: lambda _data: None)
    unsent.close()  # type: ignore[attr-defined]
    assert _accesses(admin_engine, "unsent") == []
