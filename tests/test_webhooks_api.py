"""Webhooks over the HTTP API, against the real app, PostgreSQL and its policies: an
endpoint's secret shown once (at registration and at each rotation) and never again,
the validation of what is registered, each organization's endpoints, events and log its
own, who may manage them, replay of one event and of a range, the deliveries and the
delivery log, and the audit trail of every change."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, RowMapping, func, select, text
from werkzeug.test import TestResponse

from app.domain import webhooks
from app.domain.outbox import Sealer
from app.extensions import db
from app.factory import create_app
from app.integrations.webhook_http import Answer
from app.models import Organization, WebhookDelivery, WebhookEndpoint
from app.models.enums import WebhookEventType
from app.tenancy.context import use_context
from tests.api_helpers import committed_representative, problem_of, validation_errors
from tests.conftest import MSC_SYSTEM, Tenant, TwoTenants, bearer, token_for

JOINED = WebhookEventType.PROVIDER_JOINED
EXPIRING = WebhookEventType.CREDENTIAL_EXPIRING
URL = "https://hooks.tenant-a.example/msc"
# Two attempts: the first fails and is retried at once, the second fails for good.
POLICY = webhooks.DeliveryPolicy(delays=(0,))
SEALED = {"secret_sealed", "previous_secret_sealed"}


def _endpoints(tenant: Tenant) -> str:
    return f"/api/v1/admin/organizations/{tenant.organization.id}/webhook-endpoints"


def _events(tenant: Tenant) -> str:
    return f"/api/v1/admin/organizations/{tenant.organization.id}/webhook-events"


def _create(
    client: FlaskClient, token: str, tenant: Tenant, **body: Any
) -> tuple[str, dict[str, Any]]:
    """Register an endpoint of `tenant`'s; its address and the answer."""
    sent = {"url": URL, "event_types": [JOINED], **body}
    response = client.post(_endpoints(tenant), json=sent, headers=bearer(token))
    assert response.status_code == 201, response.get_json()
    created: dict[str, Any] = response.get_json()
    return f"{_endpoints(tenant)}/{created['id']}", created


def _record(app: Flask, organization: Organization, type_: str = JOINED) -> uuid.UUID:
    """An event of the organization's, as the domain records it (committed); its id."""
    with app.app_context():
        session = db.session
        use_context(session, MSC_SYSTEM)
        webhooks.record(session, organization.id, WebhookEventType(type_), {"n": 1})
        event_id = session.scalar(
            text("SELECT id FROM webhook_events ORDER BY occurred_at DESC, id LIMIT 1")
        )
        session.commit()
    assert isinstance(event_id, uuid.UUID)
    return event_id


def _fail_everything_due(app: Flask) -> None:
    """Attempt every due delivery until it fails for good, as the workers would with an
    endpoint answering 500: each attempt in the log."""
    with app.app_context():
        session = db.session
        use_context(session, MSC_SYSTEM)
        start = session.scalar(select(func.now())) + dt.timedelta(minutes=5)
        for round_ in range(POLICY.max_attempts):
            # a second apart, for the log to list them in order
            now = start + dt.timedelta(seconds=round_)
            due = session.scalars(
                select(WebhookDelivery).where(WebhookDelivery.status == "pending")
            ).all()
            for delivery in due:
                claimed = webhooks.claim(
                    session, delivery.organization_id, delivery.id, now, POLICY
                )
                assert claimed is not None
                answer = Answer(status_code=500, body="down", error=None, latency_ms=7)
                webhooks.settle(session, claimed, answer, now, POLICY)
        session.commit()


def _rows(admin_engine: Engine, sql: str, **params: Any) -> list[RowMapping]:
    with admin_engine.connect() as connection:
        return list(connection.execute(text(sql), params).mappings())


def _deliveries(admin_engine: Engine) -> list[RowMapping]:
    return _rows(admin_engine, "SELECT * FROM webhook_deliveries ORDER BY created_at, id")


def _query_errors(response: TestResponse) -> dict[str, Any]:
    """The per-field errors of a 422 about the query string."""
    body = response.get_json()
    assert response.status_code == 422, body
    errors: dict[str, Any] = body["errors"]["query"]
    return errors


@pytest.fixture
def admin_a(client: FlaskClient, seeded: TwoTenants) -> str:
    return token_for(client, seeded.a.admin)


# --- endpoints and their secret ---------------------------------------------------


def test_an_endpoint_shows_its_secret_when_registered_and_never_again(
    app: Flask, client: FlaskClient, seeded: TwoTenants, admin_a: str, admin_engine: Engine
) -> None:
    address, created = _create(
        client, admin_a, seeded.a, description="Credentialing", event_types=[EXPIRING, JOINED]
    )
    secret = created["secret"]
    assert secret.startswith("whsec_")
    assert created["url"] == URL and created["active"] is True
    assert created["event_types"] == sorted([EXPIRING, JOINED])
    assert created["created_by_id"] == str(seeded.a.admin.id)
    assert not SEALED & created.keys()
    # sealed with the outbox's key, which the workers sign with
    (row,) = _rows(admin_engine, "SELECT secret_sealed FROM webhook_endpoints")
    assert secret not in row["secret_sealed"]
    key = app.config["SETTINGS"].outbox_secret_key
    assert Sealer(key).unseal(row["secret_sealed"]) == {"secret": secret}

    answers = [
        client.get(address, headers=bearer(admin_a)),
        client.get(_endpoints(seeded.a), headers=bearer(admin_a)),
        client.patch(address, json={"description": "Renamed"}, headers=bearer(admin_a)),
    ]
    for response in answers:
        assert response.status_code == 200, response.get_json()
        text_ = response.get_data(as_text=True)
        assert secret not in text_ and "secret" not in text_.replace("previous_secret", "")
        assert not any(name in text_ for name in SEALED)
    assert answers[1].get_json()[0]["id"] == created["id"]
    assert answers[2].get_json()["description"] == "Renamed"


def test_a_rotation_shows_the_new_secret_once_and_the_old_one_signs_during_the_overlap(
    app: Flask, client: FlaskClient, seeded: TwoTenants, admin_a: str
) -> None:
    address, created = _create(client, admin_a, seeded.a)
    response = client.post(f"{address}/secret-rotations", headers=bearer(admin_a))
    assert response.status_code == 201, response.get_json()
    rotated = response.get_json()
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != created["secret"]
    assert not SEALED & rotated.keys()
    expires = dt.datetime.fromisoformat(rotated["previous_secret_expires_at"])
    overlap = app.config["SETTINGS"].webhook_secret_overlap
    started = dt.datetime.now(dt.UTC)
    assert started + overlap - dt.timedelta(minutes=1) < expires <= started + overlap

    shown = client.get(address, headers=bearer(admin_a)).get_json()
    assert "secret" not in shown
    assert shown["previous_secret_expires_at"] == rotated["previous_secret_expires_at"]
    # both sign until the overlap ends, then the new one alone
    with app.app_context():
        use_context(db.session, MSC_SYSTEM)
        endpoint = db.session.get_one(
            WebhookEndpoint, (seeded.a.organization.id, uuid.UUID(created["id"]))
        )
        sealer = Sealer(app.config["SETTINGS"].outbox_secret_key)
        assert webhooks.signing_secrets(endpoint, sealer, started) == [
            rotated["secret"],
            created["secret"],
        ]
        after = expires + dt.timedelta(seconds=1)
        assert webhooks.signing_secrets(endpoint, sealer, after) == [rotated["secret"]]


def test_the_event_types_are_listed_with_what_each_announces(
    client: FlaskClient, admin_a: str
) -> None:
    response = client.get("/api/v1/admin/webhook-event-types", headers=bearer(admin_a))
    assert response.status_code == 200
    listed = response.get_json()
    assert [entry["type"] for entry in listed] == [t.value for t in WebhookEventType]
    assert all(entry["description"] for entry in listed)
    # each with its example data, naming the organization it belongs to
    assert all(entry["example"]["organization_id"] for entry in listed)
    invited = next(entry for entry in listed if entry["type"] == "provider.invited")
    assert invited["example"]["invitation"]["email"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"event_types": []}, "event_types"),
        ({"event_types": ["provider.promoted"]}, "event_types"),
        ({"event_types": "provider.joined"}, "event_types"),
        ({"url": "ftp://hooks.example.com/"}, "url"),
        ({"url": "/relative/path"}, "url"),
        ({"url": "https://user:pw@hooks.example.com/"}, "url"),
        ({"url": "https://hooks.example.com/#fragment"}, "url"),
        ({"url": "https://hooks.example.com:99999/"}, "url"),
        ({"url": "https://" + "h" * 2048 + ".example.com/"}, "url"),
        ({"description": "d" * 501}, "description"),
        ({"description": "two\nlines"}, "description"),
        ({"active": "yes"}, "active"),
    ],
)
def test_registering_or_changing_an_endpoint_refuses_bad_fields_naming_them(
    client: FlaskClient, seeded: TwoTenants, admin_a: str, body: dict[str, Any], field: str
) -> None:
    created = client.post(
        _endpoints(seeded.a),
        json={"url": URL, "event_types": [JOINED], **body},
        headers=bearer(admin_a),
    )
    assert field in validation_errors(created), created.get_json()
    address, _ = _create(client, admin_a, seeded.a)
    changed = client.patch(address, json=body, headers=bearer(admin_a))
    assert field in validation_errors(changed), changed.get_json()
    assert client.get(address, headers=bearer(admin_a)).get_json()["url"] == URL


def test_a_registration_without_url_or_event_types_names_both(
    client: FlaskClient, seeded: TwoTenants, admin_a: str
) -> None:
    response = client.post(_endpoints(seeded.a), json={}, headers=bearer(admin_a))
    assert set(validation_errors(response)) == {"url", "event_types"}


@pytest.fixture
def production_app(app: Flask) -> Iterator[Flask]:
    """The app as production runs it in what matters here: https:// required."""
    settings = app.config["SETTINGS"]
    production = create_app(settings)
    with production.app_context():
        production.extensions["services"] = dataclasses.replace(
            production.extensions["services"],
            settings=dataclasses.replace(settings, app_env="production"),
        )
    yield production
    production.extensions["services"].close()


def test_a_plain_http_url_is_refused_where_https_is_required(
    production_app: Flask, seeded: TwoTenants, clean_database: None
) -> None:
    client = production_app.test_client()
    token = token_for(client, seeded.a.admin)
    plain = {"url": "http://hooks.tenant-a.example/msc", "event_types": [JOINED]}
    refused = client.post(_endpoints(seeded.a), json=plain, headers=bearer(token))
    assert validation_errors(refused) == {"url": ["must be an https:// URL"]}
    address, _ = _create(client, token, seeded.a)
    changed = client.patch(address, json={"url": plain["url"]}, headers=bearer(token))
    assert validation_errors(changed) == {"url": ["must be an https:// URL"]}


def test_a_plain_http_url_is_taken_outside_production(
    client: FlaskClient, seeded: TwoTenants, admin_a: str
) -> None:
    _, created = _create(client, admin_a, seeded.a, url="http://127.0.0.1:8080/hooks")
    assert created["url"] == "http://127.0.0.1:8080/hooks"


def test_deleting_an_endpoint_removes_it_with_its_deliveries_not_the_events(
    app: Flask, client: FlaskClient, seeded: TwoTenants, admin_a: str, admin_engine: Engine
) -> None:
    address, _ = _create(client, admin_a, seeded.a)
    _record(app, seeded.a.organization)
    assert len(_deliveries(admin_engine)) == 1
    assert client.delete(address, headers=bearer(admin_a)).status_code == 204
    problem_of(client.get(address, headers=bearer(admin_a)), 404)
    assert _deliveries(admin_engine) == []
    assert len(_rows(admin_engine, "SELECT id FROM webhook_events")) == 1


# --- who may, and each organization its own -------------------------------------


def test_another_organization_reaches_nothing_of_an_organizations_webhooks(
    app: Flask, client: FlaskClient, seeded: TwoTenants, admin_a: str, admin_engine: Engine
) -> None:
    address, created = _create(client, admin_a, seeded.a)
    event_id = _record(app, seeded.a.organization)
    admin_b = token_for(client, seeded.b.admin)
    # A's addresses, and A's ids under B's own organization
    under_b = address.replace(str(seeded.a.organization.id), str(seeded.b.organization.id))
    for endpoint in (address, under_b):
        problem_of(client.get(endpoint, headers=bearer(admin_b)), 404)
        problem_of(
            client.patch(endpoint, json={"url": "https://b.example/"}, headers=bearer(admin_b)),
            404,
        )
        problem_of(client.delete(endpoint, headers=bearer(admin_b)), 404)
        problem_of(client.post(f"{endpoint}/secret-rotations", headers=bearer(admin_b)), 404)
        replay = {"event_id": str(event_id)}
        problem_of(client.post(f"{endpoint}/replays", json=replay, headers=bearer(admin_b)), 404)
        problem_of(client.get(f"{endpoint}/deliveries", headers=bearer(admin_b)), 404)
        problem_of(client.get(f"{endpoint}/attempts", headers=bearer(admin_b)), 404)
    for listing in (_endpoints(seeded.a), _events(seeded.a)):
        problem_of(client.get(listing, headers=bearer(admin_b)), 404)
    problem_of(client.get(f"{_events(seeded.b)}/{event_id}/attempts", headers=bearer(admin_b)), 404)
    for listing in (_endpoints(seeded.b), _events(seeded.b)):
        response = client.get(listing, headers=bearer(admin_b))
        assert response.status_code == 200 and response.get_json() == []
    # untouched, and A's own admin and MSC admins see it
    (row,) = _rows(admin_engine, "SELECT url, secret_sealed FROM webhook_endpoints")
    assert row["url"] == URL
    msc = token_for(client, seeded.msc_admin)
    for token in (admin_a, msc):
        assert client.get(address, headers=bearer(token)).get_json()["id"] == created["id"]


def test_office_managers_providers_and_representatives_may_not_manage_webhooks(
    client: FlaskClient, seeded: TwoTenants, admin_a: str, admin_engine: Engine
) -> None:
    address, _ = _create(client, admin_a, seeded.a)
    representative = committed_representative(admin_engine, seeded.a.organization)
    for user in (seeded.a.office_manager, seeded.shared_provider, representative):
        token = token_for(client, user, seeded.a.organization)
        for response in (
            client.get("/api/v1/admin/webhook-event-types", headers=bearer(token)),
            client.get(_endpoints(seeded.a), headers=bearer(token)),
            client.post(
                _endpoints(seeded.a),
                json={"url": URL, "event_types": [JOINED]},
                headers=bearer(token),
            ),
            client.get(address, headers=bearer(token)),
            client.post(f"{address}/secret-rotations", headers=bearer(token)),
            client.get(_events(seeded.a), headers=bearer(token)),
        ):
            problem = problem_of(response, 403)
            assert "manage-webhooks" in problem["detail"]
    assert len(_rows(admin_engine, "SELECT id FROM webhook_endpoints")) == 1


# --- replay, deliveries and the log ---------------------------------------------


def test_replaying_one_event_starts_its_delivery_over(
    app: Flask, client: FlaskClient, seeded: TwoTenants, admin_a: str, admin_engine: Engine
) -> None:
    address, _ = _create(client, admin_a, seeded.a)
    event_id = _record(app, seeded.a.organization)
    _fail_everything_due(app)
    assert [(d["status"], d["attempts"]) for d in _deliveries(admin_engine)] == [("failed", 2)]

    response = client.post(
        f"{address}/replays", json={"event_id": str(event_id)}, headers=bearer(admin_a)
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"replayed": 1}
    assert [(d["status"], d["attempts"]) for d in _deliveries(admin_engine)] == [("pending", 0)]
    # the log keeps the earlier attempts
    attempts = client.get(f"{address}/attempts", headers=bearer(admin_a)).get_json()
    assert [a["number"] for a in attempts] == [2, 1]


def test_replaying_a_range_starts_over_its_failed_deliveries_alone(
    app: Flask, client: FlaskClient, seeded: TwoTenants, admin_a: str, admin_engine: Engine
) -> None:
    address, _ = _create(client, admin_a, seeded.a)
    inside, earlier, delivered = (_record(app, seeded.a.organization) for _ in range(3))
    _fail_everything_due(app)
    with admin_engine.begin() as connection:
        connection.execute(
            text("UPDATE webhook_events SET occurred_at = '2026-01-01T00:00Z' WHERE id = :e"),
            {"e": earlier},
        )
        connection.execute(
            text("UPDATE webhook_deliveries SET status = 'delivered' WHERE event_id = :e"),
            {"e": delivered},
        )
    now = dt.datetime.now(dt.UTC)
    since = (now - dt.timedelta(hours=1)).isoformat()
    until = (now + dt.timedelta(hours=1)).isoformat()
    response = client.post(
        f"{address}/replays", json={"since": since, "until": until}, headers=bearer(admin_a)
    )
    assert response.get_json() == {"replayed": 1}
    statuses = {str(d["event_id"]): d["status"] for d in _deliveries(admin_engine)}
    assert statuses == {str(inside): "pending", str(earlier): "failed", str(delivered): "delivered"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"since": "2026-12-01T00:00:00Z"}, "until"),
        ({"until": "2026-12-01T00:00:00Z"}, "until"),
        ({"since": "2026-12-01T00:00:00Z", "until": "2026-12-01T00:00:00Z"}, "until"),
        ({"since": "2026-12-01T00:00:00Z", "until": "2026-11-01T00:00:00Z"}, "until"),
        ({"since": "yesterday", "until": "2026-11-01T00:00:00Z"}, "since"),
        ({}, "event_id"),
        ({"event_id": "not-an-id"}, "event_id"),
        ({"event_id": str(uuid.uuid4())}, "event_id"),
    ],
)
def test_a_replay_names_what_is_wrong_with_its_request(
    client: FlaskClient, seeded: TwoTenants, admin_a: str, body: dict[str, Any], field: str
) -> None:
    address, _ = _create(client, admin_a, seeded.a)
    response = client.post(f"{address}/replays", json=body, headers=bearer(admin_a))
    assert field in validation_errors(response), response.get_json()


def test_a_replay_of_another_organizations_event_or_of_an_unsubscribed_type_is_refused(
    app: Flask, client: FlaskClient, seeded: TwoTenants, admin_a: str, admin_engine: Engine
) -> None:
    address, _ = _create(client, admin_a, seeded.a)
    for event_id in (
        _record(app, seeded.b.organization),
        _record(app, seeded.a.organization, EXPIRING),
    ):
        response = client.post(
            f"{address}/replays", json={"event_id": str(event_id)}, headers=bearer(admin_a)
        )
        assert "event_id" in validation_errors(response)
    assert _deliveries(admin_engine) == []


def test_an_inactive_endpoint_is_not_replayed_to(
    app: Flask, client: FlaskClient, seeded: TwoTenants, admin_a: str
) -> None:
    address, _ = _create(client, admin_a, seeded.a, active=False)
    event_id = _record(app, seeded.a.organization)
    response = client.post(
        f"{address}/replays", json={"event_id": str(event_id)}, headers=bearer(admin_a)
    )
    assert "active" in problem_of(response, 409)["errors"]["json"]


def test_deliveries_show_their_events_type_and_filter_and_the_log_shows_each_attempt(
    app: Flask, client: FlaskClient, seeded: TwoTenants, admin_a: str
) -> None:
    address, created = _create(client, admin_a, seeded.a, event_types=[JOINED, EXPIRING])
    other, _ = _create(client, admin_a, seeded.a, url="https://other.tenant-a.example/")
    joined = _record(app, seeded.a.organization)
    _fail_everything_due(app)
    expiring = _record(app, seeded.a.organization, EXPIRING)

    def deliveries(query: str = "") -> list[tuple[str, str, str]]:
        response = client.get(f"{address}/deliveries{query}", headers=bearer(admin_a))
        assert response.status_code == 200, response.get_json()
        return [(d["event_id"], d["event_type"], d["status"]) for d in response.get_json()]

    assert deliveries() == [
        (str(expiring), EXPIRING, "pending"),
        (str(joined), JOINED, "failed"),
    ]
    assert deliveries("?status=failed") == [(str(joined), JOINED, "failed")]
    assert deliveries(f"?event_type={EXPIRING}") == [(str(expiring), EXPIRING, "pending")]
    assert deliveries(f"?event_id={joined}") == [(str(joined), JOINED, "failed")]
    assert "status" in _query_errors(
        client.get(f"{address}/deliveries?status=lost", headers=bearer(admin_a))
    )

    log = client.get(f"{address}/attempts", headers=bearer(admin_a)).get_json()
    assert [(a["event_id"], a["number"], a["status_code"]) for a in log] == [
        (str(joined), 2, 500),
        (str(joined), 1, 500),
    ]
    first = log[1]
    assert first["url"] == URL and first["response_body"] == "down"
    assert first["latency_ms"] == 7 and first["error"] is None and first["attempted_at"]
    # the event's log: its attempts to each endpoint
    by_event = client.get(
        f"{_events(seeded.a)}/{joined}/attempts", headers=bearer(admin_a)
    ).get_json()
    assert {a["endpoint_id"] for a in by_event} == {created["id"], other.rsplit("/", 1)[1]}
    assert len(by_event) == 4
    problem_of(
        client.get(f"{_events(seeded.a)}/{uuid.uuid4()}/attempts", headers=bearer(admin_a)), 404
    )


def test_events_are_listed_newest_first_by_type_and_time(
    app: Flask, client: FlaskClient, seeded: TwoTenants, admin_a: str, admin_engine: Engine
) -> None:
    joined = _record(app, seeded.a.organization)
    expiring = _record(app, seeded.a.organization, EXPIRING)
    old = _record(app, seeded.a.organization)
    _record(app, seeded.b.organization)
    with admin_engine.begin() as connection:
        connection.execute(
            text("UPDATE webhook_events SET occurred_at = '2026-01-01T00:00Z' WHERE id = :e"),
            {"e": old},
        )

    def listed(query: str = "") -> list[str]:
        response = client.get(f"{_events(seeded.a)}{query}", headers=bearer(admin_a))
        assert response.status_code == 200, response.get_json()
        return [event["id"] for event in response.get_json()]

    assert listed() == [str(expiring), str(joined), str(old)]
    assert listed(f"?type={JOINED}") == [str(joined), str(old)]
    assert listed("?since=2026-06-01T00:00:00Z") == [str(expiring), str(joined)]
    assert listed("?until=2026-06-01T00:00:00Z") == [str(old)]
    (event,) = [
        e
        for e in client.get(_events(seeded.a), headers=bearer(admin_a)).get_json()
        if e["id"] == str(expiring)
    ]
    assert (event["type"], event["data"]) == (EXPIRING, {"n": 1})
    refused = client.get(
        f"{_events(seeded.a)}?since=2026-06-01T00:00:00Z&until=2026-01-01T00:00:00Z",
        headers=bearer(admin_a),
    )
    assert "until" in _query_errors(refused)


# --- the audit trail --------------------------------------------------------------


def test_every_change_rotation_and_replay_is_in_the_trail_and_no_secret_is(
    app: Flask, client: FlaskClient, seeded: TwoTenants, admin_a: str, admin_engine: Engine
) -> None:
    address, created = _create(client, admin_a, seeded.a)
    event_id = _record(app, seeded.a.organization)
    _fail_everything_due(app)  # the workers' progress: not in the trail
    client.patch(address, json={"description": "Changed"}, headers=bearer(admin_a))
    rotated = client.post(f"{address}/secret-rotations", headers=bearer(admin_a)).get_json()
    client.post(f"{address}/replays", json={"event_id": str(event_id)}, headers=bearer(admin_a))
    # replaying an event never sent to this endpoint makes its delivery: audited too
    other, _ = _create(client, admin_a, seeded.a, url="https://other.tenant-a.example/")
    client.post(f"{other}/replays", json={"event_id": str(event_id)}, headers=bearer(admin_a))
    assert client.delete(address, headers=bearer(admin_a)).status_code == 204

    trail = _rows(
        admin_engine,
        "SELECT organization_id, actor_user_id, action, table_name, row_id, changes"
        " FROM audit_events WHERE table_name LIKE 'webhook%' ORDER BY occurred_at, id",
    )
    endpoint_id = uuid.UUID(created["id"])
    delivery_ids = {d["id"] for d in _deliveries(admin_engine)}
    assert [(e["action"], e["table_name"]) for e in trail] == [
        ("insert", "webhook_endpoints"),
        ("update", "webhook_endpoints"),  # failing, marked by the workers
        ("update", "webhook_endpoints"),  # the description
        ("update", "webhook_endpoints"),  # the rotation
        ("update", "webhook_deliveries"),  # the replay
        ("insert", "webhook_endpoints"),
        ("update", "webhook_deliveries"),  # the replay to the other endpoint
        ("delete", "webhook_endpoints"),
    ]
    assert {e["organization_id"] for e in trail} == {seeded.a.organization.id}
    assert [e["actor_user_id"] for e in trail] == [
        seeded.a.admin.id,
        None,
        *[seeded.a.admin.id] * 6,
    ]
    assert set(trail[1]["changes"]) == {"failing_since"}
    assert trail[2]["changes"]["description"] == {"old": "", "new": "Changed"}
    assert trail[3]["changes"]["secret_sealed"] == {"old": "[redacted]", "new": "[redacted]"}
    assert trail[3]["changes"]["previous_secret_expires_at"]["new"] is not None
    assert trail[4]["changes"]["attempts"] == {"old": 2, "new": 0}
    assert trail[6]["row_id"] in delivery_ids
    assert trail[0]["row_id"] == endpoint_id
    written = json.dumps([e["changes"] for e in trail])
    assert created["secret"] not in written and rotated["secret"] not in written
    assert "whsec_" not in written
