"""NPI verification: the offline check, the NPPES NPI Registry client against a local
fake of the registry, the verdicts stored on users (and their cache), and the API.

No test reaches the internet: every client points at tests/fake_registry.py, or at a
closed local port to play a registry that is down.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import socket
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask, make_response
from flask.testing import FlaskClient
from sqlalchemy import Engine, event, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from app.config import Settings
from app.domain import npi as npi_domain
from app.domain.errors import DomainError
from app.domain.reference import is_valid_npi, npi_check_digit
from app.errors import integrity_error, status_of
from app.factory import create_app
from app.integrations.nppes import (
    EnumerationType,
    Found,
    NotFound,
    NppesClient,
    Unavailable,
    parse_record,
)
from app.models import NpiRegistryAnswer, User
from app.models.enums import NpiVerification, Role
from app.tenancy.context import TenantContext, use_context
from tests import factories
from tests.conftest import MSC_SYSTEM, TwoTenants, bearer, token_for
from tests.fake_registry import FakeRegistry, individual_result

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
CACHE_HOURS = 24


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeRegistry]:
    registry = FakeRegistry().start()
    yield registry
    registry.stop()


@pytest.fixture
def registry(fake: FakeRegistry) -> FakeRegistry:
    fake.reset()
    return fake


@pytest.fixture
def client_for(registry: FakeRegistry) -> NppesClient:
    return NppesClient(registry.url, timeout_seconds=0.5)


def closed_port_url() -> str:
    """A local URL where nothing listens: connections are refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/api/"


# --- offline check digits ------------------------------------------------------------


@pytest.mark.parametrize("npi", ["1234567893", "1558598797", "1528060837", "1003347634"])
def test_valid_npis(npi: str) -> None:
    assert is_valid_npi(npi)


def test_check_digit_zero_is_valid() -> None:
    # Luhn over 80840 + 123456700 sums to 50: the check digit is (10 - 0) mod 10 = 0.
    assert npi_check_digit("123456700") == 0
    assert is_valid_npi("1234567000")


@pytest.mark.parametrize(
    "npi",
    ["1234567890", "1093791627", "3234567893", "123456789", "12345678930", "12345678a3", ""],
)
def test_invalid_npis(npi: str) -> None:
    assert not is_valid_npi(npi)


# --- the client ----------------------------------------------------------------------


def test_client_found_individual(registry: FakeRegistry, client_for: NppesClient) -> None:
    npi = factories.unique_npi()
    registry.individual(npi, "Jordan", "Lee", middle_name="A")
    result = client_for.lookup(npi)
    assert isinstance(result, Found)
    record = result.record
    assert record.number == npi and record.enumeration_type is EnumerationType.INDIVIDUAL
    assert (record.first_name, record.last_name, record.name) == ("JORDAN", "LEE", "JORDAN A LEE")
    assert record.active and record.raw["taxonomies"][0]["code"] == "207Q00000X"
    assert registry.requests[npi] == 1 and registry.versions == ["2.1"]


def test_client_found_organization(registry: FakeRegistry, client_for: NppesClient) -> None:
    npi = factories.unique_npi()
    registry.organization(npi, "Lakeside Wound Center LLC", status="D")
    result = client_for.lookup(npi)
    assert isinstance(result, Found)
    assert result.record.enumeration_type is EnumerationType.ORGANIZATION
    assert result.record.name == "LAKESIDE WOUND CENTER LLC"
    assert not result.record.active


def test_client_not_found(registry: FakeRegistry, client_for: NppesClient) -> None:
    npi = factories.unique_npi()
    registry.not_found(npi)
    assert client_for.lookup(npi) == NotFound(npi)


def test_invalid_number_is_not_asked(registry: FakeRegistry, client_for: NppesClient) -> None:
    assert client_for.lookup("1234567890") == NotFound("1234567890")
    assert sum(registry.requests.values()) == 0


def test_errors_array_is_unavailable(registry: FakeRegistry, client_for: NppesClient) -> None:
    npi = factories.unique_npi()
    registry.errors(npi)
    result = client_for.lookup(npi)
    assert isinstance(result, Unavailable) and "rejected" in result.reason


@pytest.mark.parametrize("status", [500, 503, 404, 429])
def test_http_errors_are_unavailable(
    registry: FakeRegistry, client_for: NppesClient, status: int
) -> None:
    npi = factories.unique_npi()
    registry.server_error(npi, status)
    assert client_for.lookup(npi) == Unavailable(f"HTTP {status}")


def test_not_json_is_unavailable(registry: FakeRegistry, client_for: NppesClient) -> None:
    npi = factories.unique_npi()
    registry.not_json(npi)
    assert client_for.lookup(npi) == Unavailable("malformed answer: not JSON")


def _shapes(npi: str, other: str) -> list[Any]:
    good = individual_result(npi, "Jordan", "Lee")
    return [
        [],
        "text",
        {"results": []},
        {"result_count": "1", "results": [good]},
        {"result_count": True, "results": [good]},
        {"result_count": 1, "results": "nope"},
        {"result_count": 1, "results": []},
        {"result_count": 0, "results": [good]},
        {"result_count": 1, "results": [individual_result(other, "Jordan", "Lee")]},
        {"result_count": 1, "results": [{**good, "enumeration_type": "NPI-3"}]},
        {"result_count": 1, "results": [{**good, "enumeration_type": ["NPI-1"]}]},
        {"result_count": 1, "results": [{**good, "basic": "x"}]},
        {"result_count": 1, "results": [{**good, "basic": {"first_name": "JORDAN"}}]},
        {"result_count": 1, "results": [{**good, "number": None}]},
    ]


@pytest.mark.parametrize("index", range(len(_shapes("1234567893", "1558598797"))))
def test_malformed_answers_are_unavailable(
    registry: FakeRegistry, client_for: NppesClient, index: int
) -> None:
    npi, other = factories.unique_npi(), factories.unique_npi()
    registry.bad_shape(npi, _shapes(npi, other)[index])
    result = client_for.lookup(npi)
    assert isinstance(result, Unavailable) and "malformed" in result.reason


def test_timeout_is_unavailable(registry: FakeRegistry) -> None:
    npi = factories.unique_npi()
    registry.slow(npi, 1.0)
    started = time.monotonic()
    result = NppesClient(registry.url, timeout_seconds=0.2).lookup(npi)
    assert isinstance(result, Unavailable) and "timed out" in result.reason
    assert time.monotonic() - started < 0.8


def test_registry_down_is_unavailable() -> None:
    result = NppesClient(closed_port_url(), timeout_seconds=0.5).lookup("1234567893")
    assert isinstance(result, Unavailable) and "unreachable" in result.reason


def test_url_and_configuration() -> None:
    client = NppesClient("https://example.test/api/?version=1.0&pretty=on", 1)
    assert client.url_for("1234567893") == (
        "https://example.test/api/?pretty=on&version=2.1&number=1234567893"
    )
    with pytest.raises(ValueError):
        NppesClient("file:///etc/passwd", 1)
    with pytest.raises(ValueError):
        NppesClient("https://example.test/api/", 0)
    settings = Settings(npi_registry_url="http://127.0.0.1:9/api/", npi_registry_timeout_seconds=2)
    from_settings = NppesClient.from_settings(settings)
    assert (from_settings.base_url, from_settings.timeout_seconds) == (
        "http://127.0.0.1:9/api/",
        2,
    )


def test_integer_numbers_are_read() -> None:
    # Answers have carried `number` as a JSON integer as well as a string.
    record = parse_record(
        {**individual_result("1234567893", "Jordan", "Lee"), "number": 1234567893}
    )
    assert record is not None and record.number == "1234567893"


# --- name rule -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "matches"),
    [
        ("Dr. Jordan Lee", True),
        ("jordan lee", True),
        ("Jordan A. Lee, MD", True),
        ("Lee, Jordan", True),
        ("Dr. Jordan Alexis Lee-Park", True),  # extra names on our side are ignored
        ("Jordan Li", False),
        ("J. Lee", False),
        ("Morgan Lee", False),
        ("Lee", False),
        ("", False),
    ],
)
def test_person_name_rule(name: str, matches: bool) -> None:
    assert npi_domain.person_name_matches("JORDAN", "LEE", name) is matches


def test_person_name_rule_details() -> None:
    assert npi_domain.person_name_matches("JOSÉ", "O'BRIEN", "Dr. Jose OBrien")
    assert npi_domain.person_name_matches("ANA", "SMITH-JONES", "Ana Smith Jones")
    assert not npi_domain.person_name_matches("ANA", "SMITH-JONES", "Ana Smith")
    assert npi_domain.person_name_matches("MARY ANNE", "LEE", "Mary Lee")  # first given name
    assert not npi_domain.person_name_matches("LEE", "LEE", "Lee")  # needs both
    assert npi_domain.person_name_matches("LEE", "LEE", "Lee Lee")


def test_organization_name_rule() -> None:
    match = npi_domain.organization_name_matches
    assert match("LAKESIDE WOUND CENTER, LLC", "Lakeside Wound Center")
    assert match("THE SMITH & JONES CLINIC PC", "Smith and Jones Clinic")
    assert not match("LAKESIDE WOUND CENTER LLC", "Lakeside Clinic")
    assert not match("LLC", "Inc")  # nothing left to compare


def test_other_names_are_accepted(registry: FakeRegistry, client_for: NppesClient) -> None:
    npi = factories.unique_npi()
    former = [{"type": "Former Name", "first_name": "JORDAN", "last_name": "PARK"}]
    registry.individual(npi, "Jordan", "Lee", other_names=former)
    result = client_for.lookup(npi)
    assert isinstance(result, Found)
    assert npi_domain.names_match(result.record, "Jordan Park")


# --- verification on users (database level) ---------------------------------------


def _user(db: Session, name: str = "Dr. Jordan Lee", **fields: Any) -> User:
    use_context(db, MSC_SYSTEM)
    user = factories.make_user(db, name=name, npi=fields.pop("npi", factories.unique_npi()))
    for key, value in fields.items():
        setattr(user, key, value)
    db.flush()
    # From here on the user acts for themselves, as on /me: no MSC reach.
    use_context(db, TenantContext(user_id=user.id, request_id="test"))
    return user


def _stored(db: Session, user_id: uuid.UUID) -> tuple[str, dt.datetime | None]:
    row = db.execute(
        select(User.npi_verification, User.npi_verified_at).where(User.id == user_id)
    ).one()
    return row[0], row[1]


def _verify(db: Session, user: User, client: NppesClient, now: dt.datetime = NOW) -> Any:
    return npi_domain.verify_user_npi(db, user, client=client, now=now, cache_hours=CACHE_HOURS)


def test_verify_verified(db: Session, registry: FakeRegistry, client_for: NppesClient) -> None:
    user = _user(db)
    assert user.npi is not None
    registry.individual(user.npi, "Jordan", "Lee", middle_name="A")
    result = _verify(db, user, client_for)
    assert result.npi_verification == "verified" and result.npi_verified_at == NOW
    assert result.registry is not None and result.registry.name == "JORDAN A LEE"
    assert _stored(db, user.id) == ("verified", NOW)
    assert (user.npi_verification, user.npi_verified_at) == ("verified", NOW)


@pytest.mark.parametrize("kind", ["wrong name", "wrong type", "inactive"])
def test_verify_mismatch(
    db: Session, registry: FakeRegistry, client_for: NppesClient, kind: str
) -> None:
    user = _user(db)
    assert user.npi is not None
    if kind == "wrong name":
        registry.individual(user.npi, "Morgan", "Lee")
    elif kind == "wrong type":
        registry.organization(user.npi, "Jordan Lee")
    else:
        registry.individual(user.npi, "Jordan", "Lee", status="D")
    result = _verify(db, user, client_for)
    assert result.npi_verification == "mismatch" and result.registry is not None
    assert result.check.reason
    assert _stored(db, user.id) == ("mismatch", None)


def test_verify_not_found(db: Session, registry: FakeRegistry, client_for: NppesClient) -> None:
    user = _user(db)
    result = _verify(db, user, client_for)
    assert (result.npi_verification, result.registry) == ("not_found", None)
    assert _stored(db, user.id) == ("not_found", None)


def test_no_npi_is_a_409_on_npi(db: Session, client_for: NppesClient) -> None:
    """Nothing is wrong with the request; the profile has no NPI yet: a conflict."""
    user = _user(db, npi=None)
    with pytest.raises(DomainError) as raised:
        _verify(db, user, client_for)
    assert (status_of(raised.value), raised.value.field) == (409, "npi")


def test_pending_when_down_then_retried(
    db: Session, registry: FakeRegistry, client_for: NppesClient
) -> None:
    user = _user(db)
    assert user.npi is not None
    down = NppesClient(closed_port_url(), timeout_seconds=0.5)
    result = _verify(db, user, down)
    assert (result.npi_verification, result.registry) == ("pending", None)
    assert _stored(db, user.id) == ("pending", None)
    # Nothing was cached for an unavailable registry.
    assert db.get(NpiRegistryAnswer, user.npi) is None

    # Later, the worker's pass: the registry answers now.
    registry.individual(user.npi, "Jordan", "Lee")
    use_context(db, TenantContext(request_id="npi-retry-worker"))
    later = NOW + dt.timedelta(minutes=10)
    summary = npi_domain.retry_pending(
        db, client=client_for, now=later, cache_hours=CACHE_HOURS, commit=False
    )
    assert summary.outcomes == {"verified": 1} and not summary.stopped_early
    use_context(db, MSC_SYSTEM)
    assert _stored(db, user.id) == ("verified", later)


def test_an_outage_does_not_undo_a_verification(
    db: Session, registry: FakeRegistry, client_for: NppesClient
) -> None:
    user = _user(db)
    assert user.npi is not None
    registry.individual(user.npi, "Jordan", "Lee")
    _verify(db, user, client_for)
    down = NppesClient(closed_port_url(), timeout_seconds=0.5)
    result = npi_domain.verify_user_npi(db, user, client=down, now=NOW, cache_hours=0)
    assert result.check.outcome is NpiVerification.PENDING
    assert result.npi_verification == "verified"
    assert _stored(db, user.id) == ("verified", NOW)


def test_answers_are_cached(db: Session, registry: FakeRegistry, client_for: NppesClient) -> None:
    user = _user(db)
    assert user.npi is not None
    registry.individual(user.npi, "Jordan", "Lee")
    _verify(db, user, client_for)
    _verify(db, user, client_for, NOW + dt.timedelta(hours=23))
    assert registry.requests[user.npi] == 1
    cached = db.execute(
        select(NpiRegistryAnswer.answer, NpiRegistryAnswer.fetched_at).where(
            NpiRegistryAnswer.npi == user.npi
        )
    ).one()
    assert cached.answer["number"] == user.npi and cached.fetched_at == NOW

    # Stale after cache_hours: asked again, and the cache takes the new answer.
    later = NOW + dt.timedelta(hours=25)
    registry.individual(user.npi, "Morgan", "Lee")
    assert _verify(db, user, client_for, later).npi_verification == "mismatch"
    assert registry.requests[user.npi] == 2
    fetched_at = db.scalar(
        select(NpiRegistryAnswer.fetched_at).where(NpiRegistryAnswer.npi == user.npi)
    )
    assert fetched_at == later


def test_not_found_is_cached_briefly(
    db: Session, registry: FakeRegistry, client_for: NppesClient
) -> None:
    user = _user(db)
    assert user.npi is not None
    _verify(db, user, client_for)
    _verify(db, user, client_for, NOW + dt.timedelta(minutes=30))
    assert registry.requests[user.npi] == 1
    # A newly issued number shows up in the registry: no day-long wait.
    registry.individual(user.npi, "Jordan", "Lee")
    result = _verify(db, user, client_for, NOW + dt.timedelta(hours=2))
    assert result.npi_verification == "verified" and registry.requests[user.npi] == 2


# --- the cache's one writer (policies/npi_registry_answers.sql) -----------------------


def _cached(db: Session, npi: str) -> tuple[dict[str, Any], dt.datetime] | None:
    row = db.execute(
        select(NpiRegistryAnswer.answer, NpiRegistryAnswer.fetched_at).where(
            NpiRegistryAnswer.npi == npi
        )
    ).one_or_none()
    return None if row is None else (row[0], row[1])


@pytest.fixture
def service(db: Session) -> Session:
    """The application role's session in a context of the service's (a job's): the one
    kind of caller that writes the cache."""
    use_context(db, TenantContext.system("job:npi-test"))
    return db


def test_the_cache_keeps_the_answer_fetched_last(service: Session) -> None:
    """As the application role, through the function (it holds no INSERT or UPDATE on
    the table: tests/test_rls.py)."""
    db = service
    npi = factories.unique_npi()
    first = individual_result(npi, "Jordan", "Lee")
    npi_domain.remember_answer(db, npi, first, NOW)
    assert _cached(db, npi) == (first, NOW)
    # a slower lookup's answer, fetched before but arriving after: not kept
    npi_domain.remember_answer(db, npi, {}, NOW - dt.timedelta(minutes=1))
    assert _cached(db, npi) == (first, NOW)
    later = NOW + dt.timedelta(hours=1)
    npi_domain.remember_answer(db, npi, {}, later)
    assert _cached(db, npi) == ({}, later)


def _with_check_digit(first_nine: str) -> str:
    return first_nine + str(npi_check_digit(first_nine))


VALID_NPI = "1234567893"
# Bad input for the cache's writer: (npi, answer, fetched this far ahead of now, the
# field the refusal names, what it says).
JUNK = {
    "wrong check digit": ("1234567890", {}, 0, "npi", "not a valid NPI"),
    "nine digits": ("123456789", {}, 0, "npi", "not a valid NPI"),
    "eleven digits": ("12345678931", {}, 0, "npi", "not a valid NPI"),
    "first digit 3": (_with_check_digit("323456789"), {}, 0, "npi", "not a valid NPI"),
    "a letter": ("12345678a3", {}, 0, "npi", "not a valid NPI"),
    "a trailing newline": (VALID_NPI + "\n", {}, 0, "npi", "not a valid NPI"),
    "an array": (VALID_NPI, [], 0, "answer", "must be a JSON object"),
    "a string": (VALID_NPI, "found", 0, "answer", "must be a JSON object"),
    "JSON null": (VALID_NPI, None, 0, "answer", "must be a JSON object"),
    "another number's result": (
        VALID_NPI,
        individual_result("1558598797", "Jordan", "Lee"),
        0,
        "answer",
        "a result about this number",
    ),
    "an object of no number": (
        VALID_NPI,
        {"result_count": 0},
        0,
        "answer",
        "a result about this number",
    ),
    "too large": (
        VALID_NPI,
        {"number": VALID_NPI, "padding": "x" * 1_000_000},
        0,
        "answer",
        "too large",
    ),
    "fetched in the future": (VALID_NPI, {}, 3600, "fetched_at", "in the future"),
}


@pytest.mark.parametrize(("npi", "answer", "ahead", "field", "message"), JUNK.values(), ids=JUNK)
def test_the_cache_refuses_anything_but_an_answer_about_a_valid_number(
    service: Session, app: Flask, npi: str, answer: Any, ahead: int, field: str, message: str
) -> None:
    """A caller holding the application role cannot fill the cache every tenant's
    verifications read with rows of its own making: each refusal is a 422 naming the
    parameter at fault, were it ever to reach a request."""
    db = service
    fetched_at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=ahead)
    with pytest.raises(IntegrityError) as raised, db.begin_nested():
        npi_domain.remember_answer(db, npi, answer, fetched_at)
    with app.test_request_context():
        response = make_response(integrity_error(raised.value))
    body = response.get_json()
    assert response.status_code == 422, body
    assert message in body["errors"]["json"][field][0]
    assert _cached(db, npi) is None


def test_the_cache_takes_the_clocks_of_two_servers_as_they_come(service: Session) -> None:
    """A fetch time a little ahead of the database's clock, as another server's clock
    may be, is kept; only one far ahead is refused (above)."""
    db = service
    npi = factories.unique_npi()
    fetched_at = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)
    npi_domain.remember_answer(db, npi, {}, fetched_at)
    assert _cached(db, npi) == ({}, fetched_at)


def test_the_cache_is_written_in_a_verified_context_only(db: Session) -> None:
    """Without a context the service signed (SQL run as the application role without the
    context key), even a well-formed answer is refused."""
    npi = factories.unique_npi()
    with pytest.raises(DBAPIError) as refused, db.begin_nested():
        npi_domain.remember_answer(db, npi, individual_result(npi, "Jordan", "Lee"), NOW)
    assert refused.value.orig is not None
    assert refused.value.orig.sqlstate == "42501"
    use_context(db, TenantContext.system("job:npi-test"))
    assert _cached(db, npi) is None


def test_the_databases_npi_check_is_the_applications(db: Session) -> None:
    """tenancy.is_valid_npi, which the cache's writer applies, against
    app.domain.reference.is_valid_npi: the design's examples, every check digit of some
    numbers (a check digit of 0 among them) and a spread of others."""
    numbers = ["1234567893", "1558598797", "1528060837", "1003347634", "1234567890"]
    numbers += ["1093791627", "0234567893", "3234567893", "2000000000", "123456789"]
    numbers += [f"1{n:08d}{d}" for n in range(0, 10_000_000, 99_991) for d in range(10)]
    numbers += [f"2{n:09d}" for n in range(0, 1_000_000_000, 7_777_777)]
    database = dict(
        db.execute(
            text("SELECT n, tenancy.is_valid_npi(n) FROM unnest(CAST(:numbers AS text[])) n"),
            {"numbers": numbers},
        ).all()
    )
    assert sum(database.values()) > 100  # valid and invalid alike
    assert database == {n: is_valid_npi(n) for n in numbers}


def test_a_changed_npi_keeps_its_reset(
    db: Session, registry: FakeRegistry, client_for: NppesClient
) -> None:
    """The NPI changes (another transaction) while the old one is being checked: the
    verdict about the old number must not land on the new one."""
    user = _user(db)
    assert user.npi is not None
    registry.individual(user.npi, "Jordan", "Lee")
    new_npi = factories.unique_npi()
    # Behind the ORM's back, as another request would: the loaded `user` keeps the old NPI.
    db.execute(text("UPDATE users SET npi = :n WHERE id = :i"), {"n": new_npi, "i": user.id})
    result = _verify(db, user, client_for)
    assert result.check.outcome is NpiVerification.VERIFIED  # the old number is fine...
    assert _stored(db, user.id) == ("unverified", None)  # ...but it is no longer theirs


def test_retry_walks_pending_users_in_batches(
    db: Session, registry: FakeRegistry, client_for: NppesClient
) -> None:
    """One transaction writes the cache (as the owner, through its function) and the
    users (as the application role) by turns: on a Citus cluster too, where the cache is
    no reference table for that reason (docs/citus-layout.md)."""
    users = [_user(db, name=f"Dr. Pat Doe{i}") for i in range(5)]
    use_context(db, MSC_SYSTEM)
    for i, user in enumerate(users):
        assert user.npi is not None
        user.npi_verification = NpiVerification.PENDING.value
        registry.individual(user.npi, "Pat", f"Doe{i}")
    registry.organization(users[3].npi or "", "Doe Clinic")  # one mismatch
    db.flush()

    statements: list[str] = []

    def capture(*args: Any) -> None:
        statement = args[2]
        if "FROM users" in statement and "LIMIT" in statement:
            statements.append(statement)

    use_context(db, TenantContext(request_id="npi-retry-worker"))
    engine = db.get_bind()
    event.listen(engine, "before_cursor_execute", capture)
    try:
        summary = npi_domain.retry_pending(
            db, client=client_for, now=NOW, cache_hours=CACHE_HOURS, batch_size=2
        )
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    assert summary.outcomes == {"verified": 4, "mismatch": 1} and summary.checked == 5
    assert len(statements) == 3  # batches of 2, 2 and 1, never all rows at once
    use_context(db, MSC_SYSTEM)
    assert [_stored(db, u.id)[0] for u in users] == [
        "verified",
        "verified",
        "verified",
        "mismatch",
        "verified",
    ]


def test_retry_stops_while_the_registry_is_down(
    db: Session, registry: FakeRegistry, client_for: NppesClient
) -> None:
    users = [_user(db) for _ in range(3)]
    use_context(db, MSC_SYSTEM)
    for user in users:
        user.npi_verification = NpiVerification.PENDING.value
        registry.server_error(user.npi or "")
    db.flush()
    use_context(db, TenantContext(request_id="npi-retry-worker"))
    summary = npi_domain.retry_pending(
        db, client=client_for, now=NOW, cache_hours=CACHE_HOURS, commit=False
    )
    assert summary.outcomes == {"pending": 1} and summary.stopped_early
    assert sum(registry.requests.values()) == 1


# --- the API -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def npi_app(settings: Settings, fake: FakeRegistry) -> Iterator[Flask]:
    app = create_app(
        dataclasses.replace(settings, npi_registry_url=fake.url, npi_registry_timeout_seconds=0.5)
    )
    yield app
    app.extensions["services"].engine.dispose()


@pytest.fixture
def api(
    npi_app: Flask, registry: FakeRegistry, clean_database: None, admin_engine: Engine
) -> Iterator[FlaskClient]:
    yield npi_app.test_client()
    with admin_engine.begin() as connection:  # the cache is not a tenant table
        connection.execute(text("DELETE FROM npi_registry_answers"))


def _rename(admin_engine: Engine, user: User, name: str) -> None:
    with admin_engine.begin() as connection:
        connection.execute(
            text("UPDATE users SET name = :n WHERE id = :i"), {"n": name, "i": user.id}
        )


def test_verify_my_npi(
    api: FlaskClient, seeded: TwoTenants, registry: FakeRegistry, admin_engine: Engine
) -> None:
    provider = seeded.shared_provider
    assert provider.npi is not None
    _rename(admin_engine, provider, "Dr. Jordan Lee, MD")
    registry.individual(provider.npi, "Jordan", "Lee", middle_name="A")
    token = token_for(api, provider, seeded.a.organization)

    response = api.post("/api/v1/me/npi/verify", headers=bearer(token))
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["npi"] == provider.npi and body["npi_verification"] == "verified"
    assert body["npi_verified_at"] is not None and body["reason"] is None
    assert body["registry"] == {"enumeration_type": "NPI-1", "name": "JORDAN A LEE", "status": "A"}

    again = api.post("/api/v1/me/npi/verify", headers=bearer(token))
    assert again.get_json()["npi_verification"] == "verified"
    assert registry.requests[provider.npi] == 1  # the second answer came from the cache

    with admin_engine.connect() as connection:
        stored = connection.execute(
            text("SELECT npi_verification FROM users WHERE id = :i"), {"i": provider.id}
        ).scalar_one()
        audited = connection.execute(
            text(
                "SELECT actor_user_id, changes -> 'npi_verification' ->> 'new' FROM audit_events"
                " WHERE table_name = 'users' AND row_id = :i AND action = 'update'"
                " AND changes ? 'npi_verification'"
            ),
            {"i": provider.id},
        ).all()
    assert stored == "verified"
    # Audited as the provider's own change; the confirming second call wrote nothing.
    assert [tuple(row) for row in audited] == [(provider.id, "verified")]


def test_verify_my_npi_without_one(api: FlaskClient, seeded: TwoTenants) -> None:
    token = token_for(api, seeded.a.admin)
    response = api.post("/api/v1/me/npi/verify", headers=bearer(token))
    assert response.status_code == 409
    assert "npi" in response.get_json()["errors"]["json"]


def test_pending_then_verified_through_the_api(
    api: FlaskClient, seeded: TwoTenants, registry: FakeRegistry, admin_engine: Engine
) -> None:
    provider = seeded.shared_provider
    assert provider.npi is not None
    token = token_for(api, provider, seeded.a.organization)

    registry.server_error(provider.npi)
    first = api.post("/api/v1/me/npi/verify", headers=bearer(token))
    assert first.status_code == 200
    assert (first.get_json()["npi_verification"], first.get_json()["registry"]) == (
        "pending",
        None,
    )

    registry.slow(provider.npi, 1.5)  # beyond the app's 0.5 s timeout
    started = time.monotonic()
    slow = api.post("/api/v1/me/npi/verify", headers=bearer(token))
    assert slow.status_code == 200 and slow.get_json()["npi_verification"] == "pending"
    assert time.monotonic() - started < 1.4

    _rename(admin_engine, provider, "Pat Quinn")
    registry.individual(provider.npi, "Pat", "Quinn")
    later = api.post("/api/v1/me/npi/verify", headers=bearer(token))
    assert later.get_json()["npi_verification"] == "verified"


def test_staff_verify_a_provider(
    api: FlaskClient, seeded: TwoTenants, registry: FakeRegistry, admin_engine: Engine
) -> None:
    provider = seeded.shared_provider
    assert provider.npi is not None
    registry.organization(provider.npi, "Test Clinic")
    url = f"/api/v1/admin/providers/{provider.id}/npi/verify"

    admin = token_for(api, seeded.a.admin)
    response = api.post(url, headers=bearer(admin))
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["npi_verification"] == "mismatch" and body["npi_verified_at"] is None
    assert body["registry"]["enumeration_type"] == "NPI-2" and "NPI-2" in body["reason"]

    # An office manager of a facility where the provider works (B's, here).
    with admin_engine.begin() as connection:
        connection.execute(
            text("UPDATE facilities SET office_manager_id = :m WHERE id = :f"),
            {"m": seeded.b.office_manager.id, "f": seeded.b.facility.id},
        )
    manager = token_for(api, seeded.b.office_manager)
    assert api.post(url, headers=bearer(manager)).status_code == 200

    # A provider holds none of the staff permissions.
    own = token_for(api, provider, seeded.a.organization)
    assert api.post(url, headers=bearer(own)).status_code == 403
    assert api.post(url).status_code == 401

    # Someone the caller's organization does not have, and an id that does not exist: 404.
    with Session(admin_engine, expire_on_commit=False) as session:
        only_a = factories.make_user(session, npi=factories.unique_npi())
        factories.make_membership(session, only_a, seeded.a.organization, Role.PROVIDER)
        session.commit()
    b_admin = token_for(api, seeded.b.admin)
    for target in (only_a.id, uuid.uuid4()):
        missing = api.post(f"/api/v1/admin/providers/{target}/npi/verify", headers=bearer(b_admin))
        assert missing.status_code == 404
    assert registry.requests[only_a.npi or ""] == 0


def test_documented(api: FlaskClient) -> None:
    paths = api.get("/openapi.json").get_json()["paths"]
    assert {
        "/api/v1/me/npi/verify",
        "/api/v1/admin/providers/{provider_id}/npi/verify",
        "/api/v1/npi/{npi}",
    } <= set(paths)
    assert "manage-providers" in paths["/api/v1/npi/{npi}"]["get"]["description"]


def test_lookup(api: FlaskClient, seeded: TwoTenants, registry: FakeRegistry) -> None:
    admin = token_for(api, seeded.a.admin)
    npi = factories.unique_npi()
    registry.organization(npi, "Lakeside Wound Center LLC")

    found = api.get(f"/api/v1/npi/{npi}", headers=bearer(admin))
    assert found.status_code == 200, found.get_json()
    assert found.get_json() == {
        "npi": npi,
        "valid": True,
        "registry_result": "found",
        "registry": {
            "enumeration_type": "NPI-2",
            "name": "LAKESIDE WOUND CENTER LLC",
            "status": "A",
        },
    }
    api.get(f"/api/v1/npi/{npi}", headers=bearer(admin))
    assert registry.requests[npi] == 1  # cached

    unknown = api.get("/api/v1/npi/1234567000", headers=bearer(admin)).get_json()
    assert (unknown["registry_result"], unknown["registry"]) == ("not_found", None)

    broken = factories.unique_npi()
    registry.errors(broken)
    answer = api.get(f"/api/v1/npi/{broken}", headers=bearer(admin)).get_json()
    assert answer["registry_result"] == "unavailable"

    for bad in ("1234567890", "12345", "abcdefghij"):
        refused = api.get(f"/api/v1/npi/{bad}", headers=bearer(admin))
        assert refused.status_code == 422 and "npi" in refused.get_json()["errors"]["path"]

    provider = token_for(api, seeded.shared_provider, seeded.a.organization)
    assert api.get(f"/api/v1/npi/{npi}", headers=bearer(provider)).status_code == 403
    assert api.get(f"/api/v1/npi/{npi}").status_code == 401
