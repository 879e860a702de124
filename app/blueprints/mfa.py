"""The signed-in user's second factor: its status, enrolling an authenticator app, the
recovery codes, and turning it off. Signing in with it is app/blueprints/auth.py's."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import qrcode
from flask.views import MethodView
from flask_jwt_extended import get_jwt
from qrcode.image.svg import SvgPathImage

from app import clock
from app.auth import throttle
from app.auth.throttle import SIGN_IN_BY_CLIENT, limited, sign_in_by_account, signed_in_user
from app.auth.tokens import end_other_sessions
from app.domain import accounts, mfa
from app.domain.errors import WrongSecret
from app.domain.outbox import Sealer
from app.errors import abort
from app.extensions import current_settings, db
from app.models import User
from app.permissions import authenticated
from app.request_body import Blueprint
from app.schemas.mfa import (
    CodeSchema,
    EnrollmentSchema,
    MfaStatusSchema,
    ProofSchema,
    RecoveryCodesSchema,
)
from app.schemas.passwords import PasswordSchema
from app.tenancy.request import current_context

blp = Blueprint(
    "mfa",
    __name__,
    url_prefix="/api/v1/auth/mfa",
    description="Multi-factor sign-in (TOTP): the signed-in user's authenticator app and "
    "recovery codes.",
)


def sealer() -> Sealer:
    """What encrypts and decrypts the users' TOTP secrets."""
    return Sealer(current_settings().mfa_encryption_key)


@contextmanager
def second_factor_checked(user: User) -> Iterator[None]:
    """Answer a refused second factor with 401 naming the field. Every check of a second
    factor, here and when signing in, runs inside this: a wrong code counts toward the
    user's sign-in delay like a wrong password, and none is checked during the delay."""
    try:
        with throttle.guessing(user.email, mfa.SecondFactorRefused):
            yield
    except mfa.SecondFactorRefused as refused:
        abort(401, message=refused.message, errors={"json": {refused.field: [refused.message]}})


def enrollment_body(enrollment: mfa.Enrollment) -> dict[str, Any]:
    image = qrcode.make(enrollment.uri, image_factory=SvgPathImage)
    return {
        "otpauth_uri": enrollment.uri,
        "secret": enrollment.secret,
        "qr_svg": str(image.to_string(encoding="unicode")),
    }


def _caller() -> User:
    context = current_context()
    user = db.session.get(User, context.user_id)
    assert user is not None, "an authenticated context names a visible user"
    return user


def _required_by(user: User) -> str | None:
    return mfa.required_anywhere(db.session, user.id, user.is_msc_staff)


@blp.route("")
class MfaStatus(MethodView):
    @authenticated()
    @blp.response(200, MfaStatusSchema)
    def get(self) -> dict[str, Any]:
        """Whether the caller signs in with a second factor, how many recovery codes they
        have left, and whether a rule requires it of them."""
        user = _caller()
        found = mfa.status(db.session, user, _required_by(user))
        return {
            "enabled": found.enabled_at is not None,
            "enabled_at": found.enabled_at,
            "enrollment_pending": found.enrollment_pending,
            "recovery_codes_left": found.recovery_codes_left,
            "required_by": found.required_by,
        }


# The second factor's endpoints check secrets: limited like a sign-in, per client and per
# signed-in user (counted once the token is verified, so a forged one spends nothing).
_BY_CLIENT = limited(blp, SIGN_IN_BY_CLIENT)
_BY_USER = limited(blp, sign_in_by_account(signed_in_user))


@blp.route("/enrollment")
class Enrollment(MethodView):
    @_BY_CLIENT
    @authenticated()
    @_BY_USER
    @blp.arguments(PasswordSchema)
    @blp.response(200, EnrollmentSchema)
    @blp.alt_response(409, description="multi-factor sign-in is already on")
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Start enrolling an authenticator app, giving the account's password (a wrong
        one answers 422 naming `password`): a new secret, as an otpauth:// URI (and its
        QR code) to scan, shown this once. Nothing changes at sign-in until a code from
        the app confirms it (`/enrollment/confirm`). The password keeps whoever holds a
        stolen token from tying the account to their own authenticator."""
        user = _caller()
        with throttle.guessing(user.email, WrongSecret):
            accounts.prove_password(user, data["password"], field="password")
        return enrollment_body(mfa.begin_enrollment(db.session, user, sealer()))


@blp.route("/enrollment/confirm")
class ConfirmEnrollment(MethodView):
    @_BY_CLIENT
    @authenticated()
    @_BY_USER
    @blp.arguments(CodeSchema)
    @blp.response(200, RecoveryCodesSchema)
    @blp.alt_response(401, description="wrong or already used code")
    @blp.alt_response(409, description="nothing to confirm, or already on")
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Confirm the enrollment with a code from the app: multi-factor sign-in is on from
        the next sign-in, and the answer carries ten recovery codes, shown this once.
        Every other login session of the user ends: none signed in with the second factor."""
        user = _caller()
        with second_factor_checked(user):
            codes = mfa.confirm_enrollment(db.session, user, data["code"], sealer(), clock.now())
        end_other_sessions(user.id, get_jwt()["sid"])
        return {"recovery_codes": codes}


@blp.route("/recovery-codes")
class RecoveryCodes(MethodView):
    @_BY_CLIENT
    @authenticated()
    @_BY_USER
    @blp.arguments(CodeSchema)
    @blp.response(200, RecoveryCodesSchema)
    @blp.alt_response(401, description="wrong or already used code")
    @blp.alt_response(409, description="multi-factor sign-in is off")
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Replace the recovery codes, for a code from the app: ten new ones, shown this
        once; the previous ones stop working."""
        user = _caller()
        with second_factor_checked(user):
            codes = mfa.replace_recovery_codes(
                db.session, user, data["code"], sealer(), clock.now()
            )
        return {"recovery_codes": codes}


@blp.route("/disable")
class Disable(MethodView):
    @_BY_CLIENT
    @authenticated()
    @_BY_USER
    @blp.arguments(ProofSchema)
    @blp.response(204)
    @blp.alt_response(401, description="wrong or already used code or recovery code")
    @blp.alt_response(409, description="off already, or required of the caller")
    def post(self, data: dict[str, Any]) -> None:
        """Turn multi-factor sign-in off, with a fresh code or a recovery code; its secret
        and recovery codes are deleted. Refused while a rule requires it of the caller
        (MSC admins; admins of an organization that requires it)."""
        user = _caller()
        proof = mfa.Proof(code=data.get("code"), recovery_code=data.get("recovery_code"))
        with second_factor_checked(user):
            mfa.disable(db.session, user, proof, sealer(), clock.now(), _required_by(user))
