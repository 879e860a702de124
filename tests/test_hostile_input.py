"""Hostile input answers 400, 413 or 422 naming the problem, never 5xx, and writes
nothing: malformed JSON, characters with no place in a field, oversized bodies, on the
unauthenticated login endpoint and behind a token alike."""

from __future__ import annotations

import importlib
import json
import pkgutil
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from io import BytesIO
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import marshmallow
import pytest
from flask import Flask, request
from flask.testing import FlaskClient
from sqlalchemy import Engine, text
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import BadRequest
from werkzeug.test import TestResponse, encode_multipart

import app.blueprints
import app.schemas
from app.config import Settings
from app.factory import create_app
from app.models import Organization, User
from app.request_body import UPLOAD_OVERHEAD_BYTES, Blueprint
from app.schemas.base import Schema
from app.strict_json import MAX_DEPTH
from tests import factories
from tests.api_helpers import problem_of
from tests.conftest import UNREACHABLE_LIMITS, TwoTenants, bearer, token_for

MIB = 1024 * 1024
# Every table a request could write to; the audit trail records each write besides.
TABLES = (
    "organizations",
    "facilities",
    "users",
    "memberships",
    "provider_facilities",
    "invitations",
    "outbox_messages",
    "credentials",
    "documents",
    "orders",
    "onboarding_step_completions",
    "webhook_endpoints",
    "webhook_deliveries",
    "audit_events",
)


# Named `app` for the tests (it replaces conftest's), not in this module, whose `app` is
# the package.
@pytest.fixture(name="app", scope="module")
def unthrottled_app(settings: Settings) -> Iterator[Flask]:
    """Every endpoint is sent many bodies here, more than its request limits allow."""
    unthrottled = create_app(replace(settings, **UNREACHABLE_LIMITS))
    yield unthrottled
    unthrottled.extensions["services"].close()


def _fingerprint(admin_engine: Engine) -> dict[str, str]:
    """Each table's rows, hashed: equal before and after means nothing was written."""
    with admin_engine.connect() as connection:
        return {
            table: connection.execute(
                text(
                    f"SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, '|'"
                    f" ORDER BY t::text)), '') FROM {table} t"
                )
            ).scalar_one()
            for table in TABLES
        }


def _send(
    client: FlaskClient,
    method: str,
    url: str,
    body: str | bytes,
    content_type: str,
    token: str | None,
    *,
    chunked: bool = False,
) -> TestResponse:
    headers = bearer(token) if token else {}
    data = body.encode() if isinstance(body, str) else body
    if not chunked:
        return client.open(
            url, method=method, data=data, content_type=content_type, headers=headers
        )
    # No Content-Length: the size is known only by reading, as a server passes a
    # chunked body on.
    return client.open(
        url,
        method=method,
        input_stream=BytesIO(data),
        content_type=content_type,
        headers={**headers, "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )


# --- the endpoints under attack ------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """An endpoint, a body it accepts, the single-line text field attacked, and who
    sends it (None: no token)."""

    method: str
    url: Callable[[TwoTenants], str]
    body: Callable[[TwoTenants], dict[str, Any]]
    field: str
    sender: Callable[[TwoTenants], tuple[User, Organization | None] | None]


TARGETS = {
    "login": Target(
        "POST",
        lambda s: "/api/v1/auth/login",
        lambda s: {"email": s.a.admin.email, "password": factories.PASSWORD},
        "email",
        lambda s: None,
    ),
    "organization create": Target(
        "POST",
        lambda s: "/api/v1/admin/organizations",
        lambda s: {"name": "Northwind Clinics", "organization_type": "individual"},
        "name",
        lambda s: (s.msc_admin, None),
    ),
    "facility create": Target(
        "POST",
        lambda s: f"/api/v1/admin/organizations/{s.a.organization.id}/facilities",
        lambda s: {
            "name": "Lakeside Wound Center",
            "facility_type": "wound_center",
            "address": "1 Lake Road",
            "city": "Austin",
            "state": "TX",
        },
        "address",
        lambda s: (s.a.admin, s.a.organization),
    ),
    "facility update": Target(
        "PUT",
        lambda s: f"/api/v1/admin/facilities/{s.a.facility.id}",
        lambda s: {"name": "Lakeside Renamed", "city": "Dallas"},
        "name",
        lambda s: (s.a.admin, s.a.organization),
    ),
    "invitation": Target(
        "POST",
        lambda s: "/api/v1/admin/providers/invite",
        lambda s: {
            "email": "new.provider@example.com",
            "name": "Dr. Nova Reyes",
            "role": "provider",
            "organization_id": str(s.a.organization.id),
            "facility_ids": [str(s.a.facility.id)],
        },
        "name",
        lambda s: (s.a.admin, s.a.organization),
    ),
    "webhook endpoint": Target(
        "POST",
        lambda s: f"/api/v1/admin/organizations/{s.a.organization.id}/webhook-endpoints",
        lambda s: {
            "url": "https://hooks.tenant-a.example/msc",
            "description": "Credentialing system",
            "event_types": ["provider.joined"],
        },
        "description",
        lambda s: (s.a.admin, s.a.organization),
    ),
    "credential create": Target(
        "POST",
        lambda s: "/api/v1/me/credentials",
        lambda s: {
            "credential_type": "medical_license",
            "state": "TX",
            "number": "TX-12345",
            "issuer": "Texas Medical Board",
            "expiry_date": "2099-12-31",
        },
        "issuer",
        lambda s: (s.shared_provider, s.a.organization),
    ),
}


def _with_value(body: dict[str, Any], field: str, raw: str) -> str:
    """The body as JSON text, with `field`'s value replaced by the JSON text `raw`."""
    marker = "\u2603marker\u2603"
    return json.dumps({**body, field: marker}).replace(json.dumps(marker), raw)


@dataclass(frozen=True)
class Hostile:
    body: str | bytes
    status: int
    says: str  # in the message (400, 413) or in the field's errors (422)
    content_type: str = "application/json"
    chunked: bool = False


def _hostile_bodies(body: dict[str, Any], field: str) -> dict[str, Hostile]:
    valid = json.dumps(body)
    oversized = _with_value(body, field, json.dumps("x" * MIB))
    return {
        "deep nesting": Hostile(
            _with_value(body, field, "[" * 10_000 + "]" * 10_000),
            400,
            f"nesting deeper than {MAX_DEPTH}",
        ),
        "5,000-digit integer": Hostile(_with_value(body, field, "1" * 5_000), 400, "too long"),
        "infinite float": Hostile(_with_value(body, field, "1e999"), 400, "too large"),
        "NaN": Hostile(_with_value(body, field, "NaN"), 400, "NaN is not a JSON number"),
        "lone surrogate in a value": Hostile(
            _with_value(body, field, '"a\\ud800b"'), 400, "lone surrogate in a string"
        ),
        "lone surrogate in a key": Hostile(
            valid[:-1] + ', "\\udc00": 1}', 400, "lone surrogate in a key"
        ),
        "duplicate key": Hostile(
            f'{{"{field}": "first", ' + valid[1:], 400, f"duplicate key '{field}'"
        ),
        "not JSON": Hostile("this is not JSON", 400, "not valid JSON"),
        "truncated JSON": Hostile(valid[:-1], 400, "not valid JSON"),
        "invalid UTF-8": Hostile(
            _with_value(body, field, '"caf\xe9"').encode("latin-1"), 400, "not valid UTF-8"
        ),
        "JSON sent as text/plain": Hostile(
            valid, 400, "expected a JSON body", content_type="text/plain"
        ),
        "a form where JSON is expected": Hostile(
            urlencode(body),
            400,
            "expected a JSON body",
            content_type="application/x-www-form-urlencoded",
        ),
        "NUL": Hostile(_with_value(body, field, '"a\\u0000b"'), 422, "NUL"),
        "CR/LF": Hostile(
            _with_value(body, field, '"Evil\\r\\nBcc: victim@example.com"'), 422, "line break"
        ),
        "line separator": Hostile(_with_value(body, field, '"a\\u2028b"'), 422, "line break"),
        "tab": Hostile(_with_value(body, field, '"a\\tb"'), 422, "tab"),
        "escape character": Hostile(
            _with_value(body, field, '"a\\u001b[2Jb"'), 422, "control character (U+001B)"
        ),
        "C1 control": Hostile(
            _with_value(body, field, '"a\\u0085b"'), 422, "control character (U+0085)"
        ),
        "body over 1 MiB": Hostile(oversized, 413, f"larger than the {MIB} bytes"),
        "chunked body over 1 MiB": Hostile(
            oversized, 413, f"larger than the {MIB} bytes", chunked=True
        ),
    }


def _token(client: FlaskClient, target: Target, seeded: TwoTenants) -> str | None:
    sender = target.sender(seeded)
    return token_for(client, *sender) if sender else None


def _says(response: TestResponse, field: str) -> str:
    """What the refusal says: its message, or its errors for `field`."""
    payload = problem_of(response, response.status_code)
    if response.status_code == 422:
        return " ".join(payload["errors"]["json"][field])
    message: str = payload["detail"]
    return message


@pytest.mark.parametrize("name", list(TARGETS))
def test_hostile_bodies_are_refused_naming_the_problem_and_write_nothing(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine, name: str
) -> None:
    target = TARGETS[name]
    url, body = target.url(seeded), target.body(seeded)
    token = _token(client, target, seeded)
    before = _fingerprint(admin_engine)

    for case, hostile in _hostile_bodies(body, target.field).items():
        response = _send(
            client,
            target.method,
            url,
            hostile.body,
            hostile.content_type,
            token,
            chunked=hostile.chunked,
        )
        assert response.status_code == hostile.status, (case, response.get_json())
        assert hostile.says in _says(response, target.field), (case, response.get_json())
        assert _fingerprint(admin_engine) == before, f"{case}: something was written"

    # The same body, well formed, is taken: the refusals above were the input's fault.
    accepted = _send(client, target.method, url, json.dumps(body), "application/json", token)
    assert accepted.status_code in (200, 201), accepted.get_json()


def test_multi_line_text_keeps_its_line_breaks_but_not_other_controls(
    client: FlaskClient, seeded: TwoTenants
) -> None:
    # A rejection reason is the one multi-line field (app/schemas/fields.py `Text`).
    provider = token_for(client, seeded.shared_provider, seeded.a.organization)
    created = client.post(
        "/api/v1/me/credentials",
        json={
            "credential_type": "medical_license",
            "state": "TX",
            "number": "TX-1",
            "expiry_date": "2099-12-31",
        },
        headers=bearer(provider),
    )
    assert created.status_code == 201, created.get_json()
    url = (
        f"/api/v1/admin/providers/{seeded.shared_provider.id}/credentials/"
        f"{created.get_json()['id']}/reject"
    )
    admin = token_for(client, seeded.a.admin, seeded.a.organization)

    for bad, says in (("a\x00b", "NUL"), ("abc\x07", "U+0007"), ("abc\ud800", "surrogate")):
        refused = client.post(url, json={"reason": bad}, headers=bearer(admin))
        assert refused.status_code in (400, 422), refused.get_json()
        assert says in json.dumps(refused.get_json()), refused.get_json()

    reason = "The number is unknown to the board.\r\nPlease upload\tthe license."
    rejected = client.post(url, json={"reason": reason}, headers=bearer(admin))
    assert rejected.status_code == 200, rejected.get_json()
    assert rejected.get_json()["rejection_reason"] == reason


# --- query strings and paths ------------------------------------------------------------


def test_query_and_path_parameters_with_hostile_characters_answer_4xx(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    token = token_for(client, seeded.msc_admin)
    onboarding = f"/api/v1/admin/organizations/{seeded.a.organization.id}/onboarding"
    refused_fields = {
        "/api/v1/admin/providers?search=a%00b": "search",
        "/api/v1/admin/providers?search=a%0D%0Ab": "search",
        "/api/v1/admin/providers?search=a%1Bb": "search",
        "/api/v1/admin/organizations?name=a%00b": "name",
        "/api/v1/admin/organizations?name=a%0Ab": "name",
        "/api/v1/admin/facilities?name=a%C2%85b": "name",
        "/api/v1/admin/invitations?email=a%00b": "email",
        "/api/v1/admin/audit-events?table_name=a%00b": "table_name",
        "/api/v1/admin/analytics?from=%00": "from",
    }
    for url, field in refused_fields.items():
        response = client.get(url, headers=bearer(token))
        assert response.status_code == 422, (url, response.get_json())
        assert field in response.get_json()["errors"]["query"], (url, response.get_json())

    before = _fingerprint(admin_engine)
    # Werkzeug decodes invalid UTF-8 (an encoded surrogate, too) in URLs as U+FFFD.
    answered = {
        "GET /api/v1/admin/providers?search=a%ED%A0%80b": 200,
        "GET /api/v1/admin/providers?search=%FF%FE": 200,
        "GET /api/v1/admin/organizations?status=%ED%A0%80": 422,
        "GET /api/v1/invitations/a%00b": 404,
        "GET /api/v1/invitations/a%ED%A0%80b": 404,
        "GET /api/v1/invitations/a%0D%0Ab": 404,
        "POST /api/v1/invitations/a%00b/accept": 404,
        "POST /api/v1/invitations/a%ED%A0%80b/accept": 404,
        "GET /api/v1/npi/123456789%00": 422,
        "GET /api/v1/npi/%ED%A0%80": 422,
        "GET /api/v1/admin/organizations/%00": 404,
        f"POST {onboarding}/steps/a%00b/complete": 404,
        f"POST {onboarding}/steps/%ED%A0%80/reopen": 404,
    }
    for request_line, status in answered.items():
        method, url = request_line.split(" ", 1)
        # a POST with the JSON body it takes (an empty one is refused before the path
        # is looked at)
        body = {} if method == "POST" else None
        response = client.open(url, method=method, headers=bearer(token), json=body)
        assert response.status_code == status, (request_line, response.get_json())
        if status >= 400:
            problem_of(response, status)
    assert _fingerprint(admin_engine) == before

    for header in ("Bearer a\x00b", "Bearer " + "a" * 100_000, "Bearer \x1b[2J"):
        response = client.get("/api/v1/me", headers={"Authorization": header})
        assert response.status_code == 401, response.get_json()


# --- uploads ---------------------------------------------------------------------------


@pytest.fixture
def small_uploads(
    settings: Settings, tmp_path: Path, clean_database: None
) -> Iterator[FlaskClient]:
    """An application accepting documents of at most 64 bytes."""
    app = create_app(
        replace(settings, document_storage_path=tmp_path / "documents", document_max_bytes=64)
    )
    yield app.test_client()
    app.extensions["services"].close()


def _form(data: bytes, document_type: str = "tax_form") -> tuple[bytes, str]:
    """A multipart upload of a PDF: its body and content type."""
    boundary, body = encode_multipart(
        {
            "file": FileStorage(BytesIO(data), "w9.pdf", content_type="application/pdf"),
            "document_type": document_type,
        }
    )
    return body, f"multipart/form-data; boundary={boundary}"


def test_uploads_have_their_own_limit_and_json_bodies_cannot_borrow_it(
    small_uploads: FlaskClient, seeded: TwoTenants, admin_engine: Engine, tmp_path: Path
) -> None:
    admin = token_for(small_uploads, seeded.a.admin, seeded.a.organization)
    url = f"/api/v1/admin/organizations/{seeded.a.organization.id}/documents"
    pdf = b"%PDF-1.7\n%%EOF\n"
    upload_limit = 64 + UPLOAD_OVERHEAD_BYTES
    before = _fingerprint(admin_engine)

    # Past the whole body's limit: refused as the body is read, announced or not.
    for chunked in (False, True):
        whole = _send(
            small_uploads, "POST", url, *_form(pdf + b" " * upload_limit), admin, chunked=chunked
        )
        assert whole.status_code == 413, whole.get_json()
        assert f"larger than the {upload_limit} bytes" in whole.get_json()["detail"]
    # Within it, but the file past DOCUMENT_MAX_BYTES.
    file_only = _send(small_uploads, "POST", url, *_form(pdf + b" " * 64), admin)
    assert file_only.status_code == 413, file_only.get_json()
    assert "file" in file_only.get_json()["errors"]["files"]
    # A control character in a form field is refused as in JSON.
    controls = _send(small_uploads, "POST", url, *_form(pdf, "tax\r\nform"), admin)
    assert controls.status_code == 422, controls.get_json()
    assert "line break" in controls.get_json()["errors"]["form"]["document_type"][0]
    # JSON where a form is expected.
    as_json = small_uploads.post(url, json={"document_type": "tax_form"}, headers=bearer(admin))
    assert as_json.status_code == 422, as_json.get_json()
    assert "file" in as_json.get_json()["errors"]["files"]
    assert _fingerprint(admin_engine) == before
    stored = tmp_path / "documents"
    assert not stored.exists() or not any(p.is_file() for p in stored.rglob("*"))

    # A multipart body sent to a JSON endpoint gets the JSON answer, unread.
    facility = _send(
        small_uploads,
        "POST",
        f"/api/v1/admin/organizations/{seeded.a.organization.id}/facilities",
        *_form(b" " * 1024),
        admin,
    )
    assert facility.status_code == 400, facility.get_json()
    assert "expected a JSON body" in facility.get_json()["detail"]

    accepted = _send(small_uploads, "POST", url, *_form(pdf), admin, chunked=True)
    assert accepted.status_code == 201, accepted.get_json()


def test_json_bodies_have_a_limit_of_their_own(settings: Settings) -> None:
    app = create_app(replace(settings, json_max_bytes=2048))
    try:
        client = app.test_client()
        body = {"email": "someone@example.com", "password": "p" * 1900}
        fits = client.post("/api/v1/auth/login", json=body)
        # Read and validated: the password is longer than any accepted.
        assert fits.status_code == 422, fits.get_json()
        assert "password" in fits.get_json()["errors"]["json"]
        body["password"] += "p" * 200
        for chunked in (False, True):
            refused = _send(
                client,
                "POST",
                "/api/v1/auth/login",
                json.dumps(body),
                "application/json",
                None,
                chunked=chunked,
            )
            assert refused.status_code == 413, refused.get_json()
            assert "larger than the 2048 bytes" in refused.get_json()["detail"]
    finally:
        app.extensions["services"].close()


# --- every endpoint --------------------------------------------------------------------


def _resolved(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    if "$ref" not in schema:
        return schema
    found: dict[str, Any] = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return found


def _json_operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path, body schema) of every operation taking a JSON body; for a body of
    several kinds (`oneOf` with a `discriminator`), a schema of the properties of them all."""
    found = []
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                schema = _resolved(spec, content["application/json"]["schema"])
                if "discriminator" in schema:
                    variants = [_resolved(spec, variant) for variant in schema["oneOf"]]
                    schema = {"properties": {}}
                    for variant in variants:
                        schema["properties"].update(variant["properties"])
                found.append((method.upper(), path, schema))
    return found


def _concrete(path: str) -> str:
    path = re.sub(r"\{[a-z_]*id\}", lambda _m: str(uuid.uuid4()), path)
    return re.sub(r"\{[a-z_]+\}", "x", path)


# Malformed or oversized whatever the endpoint: refused before any schema sees them.
MALFORMED: list[tuple[str | bytes, str, int]] = [
    ("[" * 5_000 + "]" * 5_000, "application/json", 400),
    ('{"a": ' + "9" * 5_000 + "}", "application/json", 400),
    ('{"a": "\\udfff"}', "application/json", 400),
    ('{"\\ud800": 1}', "application/json", 400),
    ('{"a": 1, "a": 2}', "application/json", 400),
    ('{"a": NaN}', "application/json", 400),
    (b'{"a": "\xc3\x28"}', "application/json", 400),
    ("{", "application/json", 400),
    ('{"a": 1}', "text/plain", 400),
    (json.dumps({"a": "x" * MIB}), "application/json", 413),
]


def test_every_json_endpoint_refuses_hostile_bodies_without_a_5xx(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    operations = _json_operations(client.get("/openapi.json").get_json())
    assert len(operations) >= 15, operations
    token = token_for(client, seeded.msc_admin)
    before = _fingerprint(admin_engine)

    for method, path, schema in operations:
        url = _concrete(path)
        for body, content_type, status in MALFORMED:
            response = _send(client, method, url, body, content_type, token)
            where = (method, path, body[:40])
            assert response.status_code == status, (where, response.get_json())
            problem_of(response, status)

        # Control characters in every string field: each field is named.
        strings = {
            name
            for name, prop in schema.get("properties", {}).items()
            if prop.get("type") == "string" and not prop.get("readOnly")
        }
        body = json.dumps({name: "x\r\ny\x00\x1b" for name in strings})
        response = _send(client, method, url, body, "application/json", token)
        assert response.status_code == 422, (method, path, response.get_json())
        assert set(response.get_json()["errors"]["json"]) == strings, (method, path)

    assert _fingerprint(admin_engine) == before


def _reads_arguments(view: Callable[..., Any]) -> bool:
    view_class = getattr(view, "view_class", None)
    handlers = (
        [getattr(view_class, m.lower()) for m in view_class.methods] if view_class else [view]
    )
    return any("arguments" in getattr(handler, "_apidoc", {}) for handler in handlers)


def test_every_blueprint_reading_arguments_uses_the_strict_parser(app: Flask) -> None:
    readers = {
        endpoint.split(".")[0]
        for endpoint, view in app.view_functions.items()
        if _reads_arguments(view)
    }
    assert len(readers) >= 10, readers
    for name in readers:
        assert isinstance(app.blueprints[name], Blueprint), f"{name}: not app.request_body's"


def test_every_schema_derives_from_the_base_that_checks_text() -> None:
    modules = [
        importlib.import_module(f"{package.__name__}.{module.name}")
        for package in (app.schemas, app.blueprints)
        for module in pkgutil.iter_modules(package.__path__)
    ]
    schemas = {
        cls
        for module in modules
        for cls in vars(module).values()
        if isinstance(cls, type)
        and issubclass(cls, marshmallow.Schema)
        and cls.__module__ == module.__name__
    }
    assert len(schemas) > 30
    assert {cls for cls in schemas if not issubclass(cls, Schema)} == set()


def test_request_get_json_is_strict_too(app: Flask) -> None:
    with (
        app.test_request_context(
            "/", method="POST", data='{"a": 1, "a": 2}', content_type="application/json"
        ),
        pytest.raises(BadRequest) as refused,
    ):
        request.get_json()
    # Flask hides the reason outside debug mode, but keeps it as the cause.
    assert "duplicate key 'a'" in str(refused.value.__cause__)
