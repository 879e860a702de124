"""Multi-factor sign-in against the real PostgreSQL and Redis: enrolling a TOTP
authenticator, the two-step login, replayed and wrong codes, recovery codes, turning it
off, who must use it, and the MFA token that is no access token.

The TOTP codes follow app/clock.py: each test holds the clock at whole 30-second steps
(`_at`) and computes the codes an authenticator would show then."""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

import jwt as pyjwt
import pyotp
import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app import clock
from app.config import Settings
from app.domain import mfa
from app.domain.outbox import Sealer
from app.factory import create_app
from app.models import Organization, User
from app.models.enums import Role
from app.tenancy.context import TenantContext, apply, use_context
from tests import factories
from tests.api_helpers import (
    child_organization,
    committed_representative,
    problem_of,
    validation_errors,
)
from tests.conftest import MSC_SYSTEM, TwoTenants, bearer, token_for
from tests.factories import PASSWORD

LOGIN = "/api/v1/auth/login"
LOGIN_MFA = "/api/v1/auth/login/mfa"
MFA = "/api/v1/auth/mfa"
ME = "/api/v1/me"
ORGANIZATIONS = "/api/v1/admin/organizations"

# The first moment of a time step; `_at(n)` is n steps (of 30 s) later.
START = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)


def _at(step: int) -> dt.datetime:
    return START + dt.timedelta(seconds=30 * step)


def _code(secret: str, step: int) -> str:
    """The code an authenticator shows at `_at(step)`."""
    return pyotp.TOTP(secret).at(_at(step).timestamp())


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


@contextmanager
def _clock_at(step: int) -> Iterator[None]:
    with clock.frozen(_at(step)):
        yield


@dataclass
class Enrolled:
    secret: str
    recovery_codes: list[str]


def _enrol(client: FlaskClient, token: str, step: int = 0) -> Enrolled:
    """Enrol the token's user, confirming at `step` (whose code is then used)."""
    started = client.post(f"{MFA}/enrollment", json={"password": PASSWORD}, headers=bearer(token))
    assert started.status_code == 200, started.get_json()
    secret = started.get_json()["secret"]
    with _clock_at(step):
        confirmed = client.post(
            f"{MFA}/enrollment/confirm", json={"code": _code(secret, step)}, headers=bearer(token)
        )
    assert confirmed.status_code == 200, confirmed.get_json()
    return Enrolled(secret, confirmed.get_json()["recovery_codes"])


def _login(
    client: FlaskClient, user: User, organization: Organization | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"email": user.email, "password": PASSWORD}
    if organization is not None:
        body["organization_id"] = str(organization.id)
    response = client.post(LOGIN, json=body)
    assert response.status_code == 200, response.get_json()
    answer: dict[str, Any] = response.get_json()
    return answer


def _challenge(client: FlaskClient, user: User, organization: Organization | None = None) -> str:
    """The MFA token of a password login of a user with MFA on."""
    answer = _login(client, user, organization)
    assert answer.keys() == {"mfa_required", "mfa_token", "expires_in"}, answer
    assert answer["mfa_required"] is True
    token: str = answer["mfa_token"]
    return token


def _second_step(client: FlaskClient, mfa_token: str, step: int, **proof: str) -> Any:
    with _clock_at(step):
        return client.post(LOGIN_MFA, json={"mfa_token": mfa_token, **proof})


def _assert_refused(response: Any, status: int, field: str | None = None) -> str:
    body = problem_of(response, status)
    if field is not None:
        assert field in body["errors"]["json"], body
    message: str = body["detail"]
    return message


def _claims(client: FlaskClient, token: str) -> dict[str, Any]:
    settings: Settings = client.application.config["SETTINGS"]
    decoded: dict[str, Any] = pyjwt.decode(token, settings.jwt_secret_key, algorithms=["HS256"])
    return decoded


def _mfa_columns(admin_engine: Engine, user: User) -> dict[str, Any]:
    with admin_engine.connect() as conn:
        row = conn.execute(
            text("SELECT mfa_secret, mfa_enabled_at, mfa_last_step FROM users WHERE id = :u"),
            {"u": user.id},
        ).one()
    return dict(row._mapping)


def _code_hashes(admin_engine: Engine, user: User) -> dict[str, Any]:
    with admin_engine.connect() as conn:
        rows = conn.execute(
            text("SELECT code_hash, used_at FROM mfa_recovery_codes WHERE user_id = :u"),
            {"u": user.id},
        ).all()
    return {code_hash: used_at for code_hash, used_at in rows}


def _require_admin_mfa(client: FlaskClient, admin: User, organization: Organization) -> None:
    response = client.put(
        f"{ORGANIZATIONS}/{organization.id}",
        json={"require_admin_mfa": True},
        headers=bearer(token_for(client, admin, organization)),
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["require_admin_mfa"] is True


# --- enrolling and signing in ---------------------------------------------------------


def test_enrol_confirm_then_sign_in_in_two_steps(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine, settings: Settings
) -> None:
    user = seeded.a.admin
    token = token_for(client, user)
    status = client.get(MFA, headers=bearer(token)).get_json()
    assert status["enabled"] is False and status["required_by"] is None

    started = client.post(f"{MFA}/enrollment", json={"password": PASSWORD}, headers=bearer(token))
    assert started.status_code == 200
    body = started.get_json()
    secret = body["secret"]
    parsed = pyotp.parse_uri(body["otpauth_uri"])
    assert body["otpauth_uri"].startswith("otpauth://totp/MSC:")
    assert (parsed.secret, parsed.name, parsed.issuer) == (secret, user.email, "MSC")
    assert body["qr_svg"].startswith("<svg")
    # pending: stored encrypted, not yet asked at sign-in
    stored = _mfa_columns(admin_engine, user)
    assert stored["mfa_secret"] and secret not in stored["mfa_secret"]
    assert Sealer(settings.mfa_encryption_key).unseal(stored["mfa_secret"])["totp"] == secret
    assert stored["mfa_enabled_at"] is None
    assert client.get(MFA, headers=bearer(token)).get_json()["enrollment_pending"] is True
    assert "access_token" in _login(client, user)

    with _clock_at(0):
        wrong = client.post(
            f"{MFA}/enrollment/confirm",
            json={"code": _wrong(_code(secret, 0))},
            headers=bearer(token),
        )
        _assert_refused(wrong, 401, "code")
        assert _mfa_columns(admin_engine, user)["mfa_enabled_at"] is None
        confirmed = client.post(
            f"{MFA}/enrollment/confirm", json={"code": _code(secret, 0)}, headers=bearer(token)
        )
    assert confirmed.status_code == 200
    codes = confirmed.get_json()["recovery_codes"]
    assert len(codes) == len(set(codes)) == 10
    # stored as their SHA-256 only
    hashes = _code_hashes(admin_engine, user)
    assert set(hashes) == {mfa.recovery_code_hash(c) for c in codes}
    assert set(hashes).isdisjoint(codes)
    assert (
        mfa.recovery_code_hash(codes[0])
        == hashlib.sha256(codes[0].replace("-", "").encode()).hexdigest()
    )
    status = client.get(MFA, headers=bearer(token)).get_json()
    assert status["enabled"] is True and status["recovery_codes_left"] == 10

    assert client.post("/api/v1/auth/logout", headers=bearer(token)).status_code == 204
    mfa_token = _challenge(client, user)
    signed_in = _second_step(client, mfa_token, 1, code=_code(secret, 1))
    assert signed_in.status_code == 200, signed_in.get_json()
    tokens = signed_in.get_json()
    assert tokens["organization_id"] == str(seeded.a.organization.id)
    assert client.get(ME, headers=bearer(tokens["access_token"])).status_code == 200
    assert _claims(client, tokens["access_token"])["amr"] == ["pwd", "mfa"]
    # the refreshed tokens still say how the login proved the user
    refreshed = client.post("/api/v1/auth/refresh", headers=bearer(tokens["refresh_token"]))
    assert _claims(client, refreshed.get_json()["access_token"])["amr"] == ["pwd", "mfa"]
    # the MFA token was spent
    message = _assert_refused(_second_step(client, mfa_token, 2, code=_code(secret, 2)), 401)
    assert "expired or was already used" in message


def test_enrolling_takes_the_password_and_ends_the_other_sessions(
    client: FlaskClient, seeded: TwoTenants
) -> None:
    """Whoever holds a stolen token cannot tie the account to their own authenticator
    without its password; once the second factor is on, the sessions that signed in
    without it (a stolen one among them) end, and this one goes on."""
    user = seeded.a.admin
    other = token_for(client, user)
    token = token_for(client, user)
    for body, problem in (({}, "password"), ({"password": "not the password"}, "password")):
        refused = client.post(f"{MFA}/enrollment", json=body, headers=bearer(token))
        assert refused.status_code == 422, refused.get_json()
        assert problem in validation_errors(refused)
    assert client.get(MFA, headers=bearer(token)).get_json()["enrollment_pending"] is False

    _enrol(client, token, step=0)
    assert client.get(ME, headers=bearer(other)).status_code == 401
    assert client.get(ME, headers=bearer(token)).status_code == 200


def test_a_sign_in_begun_before_a_password_change_goes_no_further(
    client: FlaskClient, seeded: TwoTenants
) -> None:
    """An MFA token got with the old password stops when the password changes: the
    second factor alone never finishes a sign-in the new password did not start."""
    user = seeded.a.admin
    token = token_for(client, user)
    enrolled = _enrol(client, token, step=0)
    mfa_token = _challenge(client, user)
    changed = client.post(
        "/api/v1/auth/password",
        json={"current_password": PASSWORD, "new_password": "a brand new passphrase 4417"},
        headers=bearer(token),
    )
    assert changed.status_code == 200, changed.get_json()
    refused = _second_step(client, mfa_token, 1, code=_code(enrolled.secret, 1))
    assert "password has changed" in _assert_refused(refused, 401)


def test_a_password_login_says_so_in_its_tokens(client: FlaskClient, seeded: TwoTenants) -> None:
    tokens = _login(client, seeded.a.office_manager)
    assert _claims(client, tokens["access_token"])["amr"] == ["pwd"]
    assert _claims(client, tokens["refresh_token"])["amr"] == ["pwd"]


def test_no_challenge_for_an_organization_the_user_does_not_belong_to(
    client: FlaskClient, seeded: TwoTenants
) -> None:
    _enrol(client, token_for(client, seeded.a.admin))
    response = client.post(
        LOGIN,
        json={
            "email": seeded.a.admin.email,
            "password": PASSWORD,
            "organization_id": str(seeded.b.organization.id),
        },
    )
    _assert_refused(response, 403, "organization_id")
    assert "mfa_token" not in response.get_json()


def test_a_wrong_code_answers_401_and_the_challenge_stays_usable(
    client: FlaskClient, seeded: TwoTenants
) -> None:
    enrolled = _enrol(client, token_for(client, seeded.a.admin))
    mfa_token = _challenge(client, seeded.a.admin)
    wrong = _second_step(client, mfa_token, 1, code=_wrong(_code(enrolled.secret, 1)))
    assert _assert_refused(wrong, 401, "code") == "wrong code"
    assert "access_token" not in wrong.get_json()
    right = _second_step(client, mfa_token, 1, code=_code(enrolled.secret, 1))
    assert right.status_code == 200, right.get_json()


def test_a_used_code_is_refused_even_within_its_window(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    user = seeded.a.admin
    enrolled = _enrol(client, token_for(client, user), step=0)
    # The confirming code, a step later: still inside the window, but used.
    replayed = _second_step(client, _challenge(client, user), 1, code=_code(enrolled.secret, 0))
    assert "already used" in _assert_refused(replayed, 401, "code")

    first = _second_step(client, _challenge(client, user), 2, code=_code(enrolled.secret, 2))
    assert first.status_code == 200
    assert _mfa_columns(admin_engine, user)["mfa_last_step"] == int(_at(2).timestamp()) // 30
    again = _second_step(client, _challenge(client, user), 2, code=_code(enrolled.secret, 2))
    assert "already used" in _assert_refused(again, 401, "code")
    # an earlier code of the window is as used as the one accepted after it
    earlier = _second_step(client, _challenge(client, user), 2, code=_code(enrolled.secret, 1))
    _assert_refused(earlier, 401, "code")
    # the next step's code is accepted (the window reaches one step ahead)
    ahead = _second_step(client, _challenge(client, user), 2, code=_code(enrolled.secret, 3))
    assert ahead.status_code == 200
    # two steps away is outside the window
    far = _second_step(client, _challenge(client, user), 5, code=_code(enrolled.secret, 7))
    assert _assert_refused(far, 401, "code") == "wrong code"


def test_a_recovery_code_works_once(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    user = seeded.a.admin
    token = token_for(client, user)
    enrolled = _enrol(client, token)
    code = enrolled.recovery_codes[3]
    # typed back in capitals, without its dashes
    typed = code.replace("-", "").upper()
    used = _second_step(client, _challenge(client, user), 1, recovery_code=typed)
    assert used.status_code == 200, used.get_json()
    assert _claims(client, used.get_json()["access_token"])["amr"] == ["pwd", "mfa"]
    assert _code_hashes(admin_engine, user)[mfa.recovery_code_hash(code)] is not None
    assert client.get(MFA, headers=bearer(token)).get_json()["recovery_codes_left"] == 9

    again = _second_step(client, _challenge(client, user), 1, recovery_code=code)
    _assert_refused(again, 401, "recovery_code")
    unknown = _second_step(client, _challenge(client, user), 1, recovery_code="not-a-code")
    _assert_refused(unknown, 401, "recovery_code")


def test_the_second_step_takes_exactly_one_proof(client: FlaskClient, seeded: TwoTenants) -> None:
    enrolled = _enrol(client, token_for(client, seeded.a.admin))
    mfa_token = _challenge(client, seeded.a.admin)
    neither = _second_step(client, mfa_token, 1)
    assert neither.status_code == 422 and "code" in validation_errors(neither)
    both = _second_step(
        client,
        mfa_token,
        1,
        code=_code(enrolled.secret, 1),
        recovery_code=enrolled.recovery_codes[0],
    )
    assert both.status_code == 422 and "recovery_code" in validation_errors(both)
    malformed = _second_step(client, mfa_token, 1, code="12a456")
    assert malformed.status_code == 422 and "code" in validation_errors(malformed)
    # none of these spent the challenge
    assert _second_step(client, mfa_token, 1, code=_code(enrolled.secret, 1)).status_code == 200


def test_new_recovery_codes_replace_the_old_ones(client: FlaskClient, seeded: TwoTenants) -> None:
    user = seeded.a.admin
    token = token_for(client, user)
    enrolled = _enrol(client, token)
    with _clock_at(1):
        replaced = client.post(
            f"{MFA}/recovery-codes", json={"code": _code(enrolled.secret, 1)}, headers=bearer(token)
        )
    assert replaced.status_code == 200
    new_codes = replaced.get_json()["recovery_codes"]
    assert len(new_codes) == 10 and set(new_codes).isdisjoint(enrolled.recovery_codes)
    old = _second_step(
        client, _challenge(client, user), 2, recovery_code=enrolled.recovery_codes[0]
    )
    _assert_refused(old, 401, "recovery_code")
    new = _second_step(client, _challenge(client, user), 2, recovery_code=new_codes[0])
    assert new.status_code == 200


def test_turning_it_off_needs_a_fresh_second_factor(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    user = seeded.a.admin
    token = token_for(client, user)
    enrolled = _enrol(client, token, step=0)
    with _clock_at(0):
        missing = client.post(f"{MFA}/disable", json={}, headers=bearer(token))
        assert missing.status_code == 422
        # the code that confirmed the enrollment is spent
        stale = client.post(
            f"{MFA}/disable", json={"code": _code(enrolled.secret, 0)}, headers=bearer(token)
        )
        _assert_refused(stale, 401, "code")
    assert _mfa_columns(admin_engine, user)["mfa_enabled_at"] is not None

    with _clock_at(1):
        off = client.post(
            f"{MFA}/disable", json={"code": _code(enrolled.secret, 1)}, headers=bearer(token)
        )
    assert off.status_code == 204, off.get_json()
    assert _mfa_columns(admin_engine, user) == {
        "mfa_secret": None,
        "mfa_enabled_at": None,
        "mfa_last_step": None,
    }
    assert _code_hashes(admin_engine, user) == {}
    assert "access_token" in _login(client, user)
    again = client.post(f"{MFA}/disable", json={"code": "123456"}, headers=bearer(token))
    _assert_refused(again, 409)


def test_a_recovery_code_turns_it_off(client: FlaskClient, seeded: TwoTenants) -> None:
    token = token_for(client, seeded.a.admin)
    enrolled = _enrol(client, token)
    off = client.post(
        f"{MFA}/disable",
        json={"recovery_code": enrolled.recovery_codes[0]},
        headers=bearer(token),
    )
    assert off.status_code == 204
    assert client.get(MFA, headers=bearer(token)).get_json()["enabled"] is False


def test_enrolling_again_while_on_is_refused(client: FlaskClient, seeded: TwoTenants) -> None:
    token = token_for(client, seeded.a.admin)
    _enrol(client, token)
    _assert_refused(
        client.post(f"{MFA}/enrollment", json={"password": PASSWORD}, headers=bearer(token)), 409
    )
    confirm = client.post(
        f"{MFA}/enrollment/confirm", json={"code": "123456"}, headers=bearer(token)
    )
    _assert_refused(confirm, 409)


# --- who must --------------------------------------------------------------------------


def test_an_msc_admin_without_a_second_factor_must_enrol_to_sign_in(
    client: FlaskClient, seeded: TwoTenants
) -> None:
    admin = seeded.msc_admin
    answer = _login(client, admin)
    assert answer.keys() == {
        "mfa_enrollment_required",
        "mfa_requirement",
        "mfa_token",
        "expires_in",
    }, answer
    assert answer["mfa_requirement"] == mfa.MSC_STAFF_RULE
    mfa_token = answer["mfa_token"]
    # not a token for the code step
    wrong_step = _second_step(client, mfa_token, 0, code="123456")
    assert "setting up" in _assert_refused(wrong_step, 401)

    started = client.post(f"{LOGIN_MFA}/enrollment", json={"mfa_token": mfa_token})
    assert started.status_code == 200, started.get_json()
    secret = started.get_json()["secret"]
    with _clock_at(0):
        wrong = client.post(
            f"{LOGIN_MFA}/enrollment/confirm",
            json={"mfa_token": mfa_token, "code": _wrong(_code(secret, 0))},
        )
        _assert_refused(wrong, 401, "code")
        confirmed = client.post(
            f"{LOGIN_MFA}/enrollment/confirm",
            json={"mfa_token": mfa_token, "code": _code(secret, 0)},
        )
    assert confirmed.status_code == 200, confirmed.get_json()
    body = confirmed.get_json()
    assert len(body["recovery_codes"]) == 10
    me = client.get(ME, headers=bearer(body["access_token"])).get_json()
    assert me["is_msc_admin"] is True
    assert _claims(client, body["access_token"])["amr"] == ["pwd", "mfa"]
    # the MFA token was spent with the confirmation
    reused = client.post(f"{LOGIN_MFA}/enrollment", json={"mfa_token": mfa_token})
    _assert_refused(reused, 401)

    # it cannot be turned off, and it is asked at the next sign-in
    with _clock_at(1):
        off = client.post(
            f"{MFA}/disable",
            json={"code": _code(secret, 1)},
            headers=bearer(body["access_token"]),
        )
    assert mfa.MSC_STAFF_RULE in _assert_refused(off, 409)
    status = client.get(MFA, headers=bearer(body["access_token"])).get_json()
    assert status["enabled"] is True and status["required_by"] == mfa.MSC_STAFF_RULE
    assert (
        _second_step(client, _challenge(client, admin), 2, code=_code(secret, 2)).status_code == 200
    )


def test_an_msc_representative_must_enrol_too_and_then_reads_their_organization(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    """Representatives are MSC staff: the same rule as MSC admins, so a first sign-in
    enrols on the way in, before any token exists."""
    representative = committed_representative(admin_engine, seeded.a.organization)
    answer = _login(client, representative)
    assert answer.get("mfa_enrollment_required") is True, answer
    assert answer["mfa_requirement"] == mfa.MSC_STAFF_RULE
    started = client.post(f"{LOGIN_MFA}/enrollment", json={"mfa_token": answer["mfa_token"]})
    assert started.status_code == 200, started.get_json()
    with _clock_at(0):
        confirmed = client.post(
            f"{LOGIN_MFA}/enrollment/confirm",
            json={"mfa_token": answer["mfa_token"], "code": _code(started.get_json()["secret"], 0)},
        )
    assert confirmed.status_code == 200, confirmed.get_json()
    token = confirmed.get_json()["access_token"]
    assert confirmed.get_json()["organization_id"] == str(seeded.a.organization.id)
    me = client.get(ME, headers=bearer(token)).get_json()
    assert me["role"] == "msc_representative"
    status = client.get(MFA, headers=bearer(token)).get_json()
    assert status["enabled"] is True and status["required_by"] == mfa.MSC_STAFF_RULE


def test_an_organization_can_require_a_second_factor_of_its_admins(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    a = seeded.a
    child, child_admin = child_organization(admin_engine, a.organization)
    before = _login(client, a.admin)  # a session from before the rule
    # an office manager may not set it
    refused = client.put(
        f"{ORGANIZATIONS}/{a.organization.id}",
        json={"require_admin_mfa": True},
        headers=bearer(token_for(client, a.office_manager)),
    )
    assert refused.status_code == 403
    _require_admin_mfa(client, a.admin, a.organization)

    for admin, organization in ((a.admin, a.organization), (child_admin, child)):
        answer = _login(client, admin, organization)
        assert answer.get("mfa_enrollment_required") is True, answer
        assert answer["mfa_requirement"] == mfa.ORGANIZATION_RULE
    # the rule is for admins; other organizations' admins are untouched
    assert "access_token" in _login(client, a.office_manager)
    assert "access_token" in _login(client, seeded.b.admin)
    # the session signed in before the rule cannot be renewed without a second factor
    renewed = client.post("/api/v1/auth/refresh", headers=bearer(before["refresh_token"]))
    assert mfa.ORGANIZATION_RULE in _assert_refused(renewed, 403)
    # and admins cannot turn it off while the rule stands
    token = token_for(client, a.admin)
    enrolled = _enrol(client, token)
    with _clock_at(1):
        off = client.post(
            f"{MFA}/disable", json={"code": _code(enrolled.secret, 1)}, headers=bearer(token)
        )
    assert mfa.ORGANIZATION_RULE in _assert_refused(off, 409)
    assert _challenge(client, a.admin)


def test_switching_to_an_organization_that_requires_it_needs_a_second_factor(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    a, b = seeded.a.organization, seeded.b.organization
    with Session(admin_engine, expire_on_commit=False) as session:
        user = factories.make_user(session)
        factories.make_membership(session, user, a, Role.PROVIDER)
        factories.make_membership(session, user, b, Role.ORGANIZATION_ADMIN)
        session.commit()
    _require_admin_mfa(client, seeded.b.admin, b)

    def switch(access_token: str) -> Any:
        return client.post(
            "/api/v1/auth/switch-organization",
            json={"organization_id": str(b.id)},
            headers=bearer(access_token),
        )

    password_only = _login(client, user, a)["access_token"]
    assert mfa.ORGANIZATION_RULE in _assert_refused(switch(password_only), 403)

    enrolled = _enrol(client, password_only)
    mfa_token = _challenge(client, user, a)
    tokens = _second_step(client, mfa_token, 1, code=_code(enrolled.secret, 1)).get_json()
    switched = switch(tokens["access_token"])
    assert switched.status_code == 200, switched.get_json()
    assert switched.get_json()["organization_id"] == str(b.id)
    assert _claims(client, switched.get_json()["access_token"])["amr"] == ["pwd", "mfa"]


# --- the MFA token ---------------------------------------------------------------------


def test_an_mfa_token_is_no_access_or_refresh_token(
    client: FlaskClient, seeded: TwoTenants
) -> None:
    enrolled_token = _challenge_of_enrolled(client, seeded.a.admin)
    enrolment_token = _login(client, seeded.msc_admin)["mfa_token"]
    for mfa_token in (enrolled_token, enrolment_token):
        _assert_refused(client.get(ME, headers=bearer(mfa_token)), 401)
        _assert_refused(client.get(MFA, headers=bearer(mfa_token)), 401)
        _assert_refused(client.post("/api/v1/auth/refresh", headers=bearer(mfa_token)), 401)
    unknown = _second_step(client, "no-such-token", 0, code="123456")
    assert "expired or was already used" in _assert_refused(unknown, 401)


def _challenge_of_enrolled(client: FlaskClient, user: User) -> str:
    _enrol(client, token_for(client, user))
    return _challenge(client, user)


def test_an_expired_mfa_token_answers_401(
    settings: Settings, seeded: TwoTenants, clean_database: None
) -> None:
    client = create_app(replace(settings, mfa_challenge_seconds=1)).test_client()
    enrolled = _enrol(client, token_for(client, seeded.a.admin))
    answer = _login(client, seeded.a.admin)
    assert answer["expires_in"] == 1
    time.sleep(1.2)
    expired = _second_step(client, answer["mfa_token"], 1, code=_code(enrolled.secret, 1))
    assert "expired" in _assert_refused(expired, 401)
    assert "access_token" not in expired.get_json()


def test_a_deactivated_account_cannot_finish_its_login(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    enrolled = _enrol(client, token_for(client, seeded.a.admin))
    mfa_token = _challenge(client, seeded.a.admin)
    with admin_engine.begin() as conn:
        apply(conn, TenantContext(is_msc_admin=True))
        conn.execute(
            text("UPDATE users SET is_active = false WHERE id = :u"), {"u": seeded.a.admin.id}
        )
    refused = _second_step(client, mfa_token, 1, code=_code(enrolled.secret, 1))
    _assert_refused(refused, 401)


# --- what is stored, and who may change it ---------------------------------------------


def test_the_audit_trail_records_mfa_changes_without_secrets(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    user = seeded.a.admin
    enrolled = _enrol(client, token_for(client, user))
    _second_step(client, _challenge(client, user), 1, recovery_code=enrolled.recovery_codes[0])
    stored = _mfa_columns(admin_engine, user)["mfa_secret"]
    hashes = set(_code_hashes(admin_engine, user))
    with admin_engine.connect() as conn:
        events = conn.execute(
            text(
                "SELECT table_name, action, changes::text FROM audit_events"
                " WHERE table_name IN ('users', 'mfa_recovery_codes')"
            )
        ).all()
    user_updates = [changes for table, action, changes in events if table == "users"]
    assert any('"mfa_enabled_at"' in changes for changes in user_updates)
    assert any('"mfa_secret": {"new": "[redacted]"' in c for c in user_updates), user_updates
    assert {action for table, action, _ in events if table == "mfa_recovery_codes"} == {
        "insert",
        "update",
    }
    everything = " ".join(changes for _, _, changes in events)
    assert enrolled.secret not in everything and stored not in everything
    assert not any(code_hash in everything for code_hash in hashes)
    # a sign-in with a code is no change to the account
    assert not any('"mfa_last_step"' in c and '"mfa_enabled_at"' not in c for c in user_updates)


def test_only_the_user_sets_their_second_factor(db: Session, tenants: TwoTenants) -> None:
    """The database refuses MFA columns written by anyone but the user, MSC included."""
    use_context(db, MSC_SYSTEM)
    refused = "only the user may change users\\.mfa_"
    with pytest.raises(DBAPIError, match=refused + "enabled_at"), db.begin_nested():
        db.execute(
            text("UPDATE users SET mfa_enabled_at = now() WHERE id = :u"),
            {"u": tenants.a.admin.id},
        )
    with pytest.raises(DBAPIError, match=refused + "secret"), db.begin_nested():
        db.execute(
            text("UPDATE users SET mfa_secret = 'chosen-by-someone-else' WHERE id = :u"),
            {"u": tenants.a.admin.id},
        )
    use_context(db, TenantContext(user_id=tenants.a.admin.id))
    db.execute(text("UPDATE users SET mfa_last_step = 1 WHERE id = :u"), {"u": tenants.a.admin.id})
    stored = db.scalar(
        text("SELECT mfa_last_step FROM users WHERE id = :u"), {"u": tenants.a.admin.id}
    )
    assert stored == 1


def test_recovery_codes_are_their_users_alone(db: Session, tenants: TwoTenants) -> None:
    """Not even their organization's admin or MSC reads or writes a user's codes; and a
    used code stays used."""
    owner = tenants.a.office_manager
    use_context(db, TenantContext(user_id=owner.id))
    db.execute(
        text("INSERT INTO mfa_recovery_codes (user_id, code_hash) VALUES (:u, 'h1')"),
        {"u": owner.id},
    )
    db.execute(
        text("UPDATE mfa_recovery_codes SET used_at = now() WHERE user_id = :u"), {"u": owner.id}
    )
    with pytest.raises(DBAPIError, match="only ever marked used, once"), db.begin_nested():
        db.execute(
            text("UPDATE mfa_recovery_codes SET used_at = NULL WHERE user_id = :u"),
            {"u": owner.id},
        )
    for context in (tenants.a.context(), MSC_SYSTEM, TenantContext(user_id=tenants.b.admin.id)):
        use_context(db, context)
        assert db.scalar(text("SELECT count(*) FROM mfa_recovery_codes")) == 0
        with pytest.raises(DBAPIError), db.begin_nested():
            db.execute(
                text("INSERT INTO mfa_recovery_codes (user_id, code_hash) VALUES (:u, 'h2')"),
                {"u": owner.id},
            )


def test_the_login_documents_both_answers(client: FlaskClient) -> None:
    spec = client.get("/openapi.json").get_json()
    answer = spec["paths"]["/api/v1/auth/login"]["post"]["responses"]["200"]
    schema = answer["content"]["application/json"]["schema"]
    assert {ref["$ref"].rsplit("/", 1)[1] for ref in schema["oneOf"]} == {
        "Token",
        "MfaChallenge",
    }
