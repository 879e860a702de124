"""Each kind of domain refusal answers with its status and names its field, without a
database: the table in app/errors.py is the only place a refusal meets HTTP."""

from __future__ import annotations

from typing import NoReturn

import pytest
from flask import Flask

from app.citus import unsharded
from app.domain import errors as domain
from app.domain.documents import StoredFileCorrupt
from app.errors import STATUS, init_error_handlers, status_of
from app.integrations.storage import StoredFileMissing
from app.tenancy.request import init_request_ids
from tests.api_helpers import problem_of

EXPECTED = {
    domain.NotFound: 404,
    domain.Invalid: 422,
    domain.Conflict: 409,
    domain.Forbidden: 403,
    domain.Gone: 410,
    domain.TooLarge: 413,
    domain.Unavailable: 503,
}


def _raising(exc: Exception) -> Flask:
    app = Flask(__name__)
    init_request_ids(app)
    init_error_handlers(app)

    @app.get("/")
    def _raise() -> NoReturn:
        raise exc

    return app


def test_every_kind_of_refusal_has_a_status() -> None:
    assert set(domain.DomainError.__subclasses__()) == set(EXPECTED)
    assert all(STATUS[kind] == status for kind, status in EXPECTED.items())


@pytest.mark.parametrize(("kind", "status"), EXPECTED.items())
def test_a_refusal_answers_its_status_naming_the_field(
    kind: type[domain.DomainError], status: int
) -> None:
    assert status_of(kind("refused")) == status
    response = _raising(kind("refused", field="email")).test_client().get("/")
    body = problem_of(response, status)
    assert body["detail"] == "refused"
    assert body["errors"] == {"json": {"email": ["refused"]}}


def test_without_a_field_the_body_names_none() -> None:
    response = _raising(domain.NotFound("order not found")).test_client().get("/")
    body = problem_of(response, 404)
    assert body["detail"] == "order not found"
    assert "errors" not in body


def test_a_subclass_answers_as_its_nearest_mapped_class() -> None:
    class InvitationExpired(domain.Gone):
        pass

    assert status_of(InvitationExpired("the invitation is expired")) == 410
    assert status_of(ValueError("unexpected")) == 500


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        (StoredFileMissing("0123456789abcdef"), "the stored file is missing"),
        (StoredFileCorrupt("document 1: stored bytes do not match"), "the stored file is corrupt"),
    ],
)
def test_a_storage_fault_is_a_500_that_says_which(fault: Exception, message: str) -> None:
    response = _raising(fault).test_client().get("/")
    body = problem_of(response, 500)
    # The key or document id goes to the log, not to the client.
    assert body["detail"] == message
    assert "errors" not in body


def test_a_shards_name_is_read_as_its_tables() -> None:
    """A Citus cluster names a shard's constraint in an error; the field is found by the
    table's constraint name all the same."""
    assert unsharded("ck_credentials_dates_ordered_102019") == "ck_credentials_dates_ordered"
    assert unsharded("organizations_may_write_102010") == "organizations_may_write"
    assert unsharded("uq_users_email") == "uq_users_email"
