"""The pages behind the email links, and the API documentation's page.

An invitation email links to its accept page: the invitee sets a name and password, or,
when an account with the invited email exists, signs in with it on the same page; either
way the acceptance is the API's (app/domain/invitations.py). A renewal reminder links to
a plain page that says what to renew and where, from the link alone: it reads nothing
from the database, so it shows nothing the email did not already carry. A password reset
email links to the page that sets a new password with the API's rules
(app/blueprints/passwords.py), and the "forgotten password" page asks for that email.

The pages are server-rendered forms that work without JavaScript. Each form carries a
CSRF token (flask-wtf) bound to the secret it keeps in the pages' signed session cookie,
and every page is served under a Content-Security-Policy that allows this server's
stylesheet and form posts, and nothing else (app/security_headers.py).

`/docs` is flask-smorest's Swagger UI page (its template overridden by
app/templates/swagger_ui.html, without inline script), with Swagger UI's files from the
flask-swagger-ui package, so the documentation works with no network access, under a
policy of its own (app/security_headers.py).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from importlib import resources
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import Blueprint as FlaskBlueprint
from flask import Flask, Response, current_app, render_template, request
from flask.typing import ResponseReturnValue
from flask.views import MethodView
from flask_wtf.csrf import generate_csrf, validate_csrf
from marshmallow import ValidationError
from werkzeug.exceptions import NotFound as NoRoute
from wtforms.validators import ValidationError as CSRFError

from app import clock
from app.auth import throttle
from app.auth.throttle import (
    INVITATION_LINKS,
    LINKS_BY_CLIENT,
    RESET_REQUESTS,
    limited,
    link_token,
    url_part,
)
from app.blueprints.passwords import RESET_REQUESTED, reset_with_link, send_reset_link
from app.config import Settings
from app.domain import accounts, invitations, passwords
from app.domain.errors import Conflict, Gone, Invalid, NotFound, WrongSecret
from app.domain.reminders import CREDENTIAL_LABELS, DOCUMENT_LABELS
from app.extensions import current_settings, db
from app.models import Invitation, Organization, PasswordReset
from app.models.enums import InvitationStatus, PasswordResetStatus
from app.problems import http_problem
from app.request_body import Blueprint
from app.schemas.invitations import AcceptSchema
from app.schemas.passwords import PasswordResetRequestSchema, PasswordResetSchema
from app.tenancy.request import request_id

SWAGGER_UI_ASSETS = "/docs/assets"

# Only the session's CSRF secret goes into the cookie; derived from the JWT secret (which
# production requires to be strong) for this one use, so a cookie signature and a token
# signature never share a key.
_SESSION_KEY_INFO = b"msc-organizations pages session cookie"

# Every answer of a page is a page, refusals included: what each status shows.
_HTML_ANSWERS = {
    "200": "The page.",
    "400": "The form came without the page's CSRF token, or with an expired one: a page"
    " offering to start again.",
    "404": "No such invitation, reset or credential: a page saying so.",
    "409": "The invitation cannot be accepted as it stands: a page saying why.",
    "410": "The link was used, revoked, replaced or has expired: a page saying so.",
    "422": "The form again, saying what to correct.",
    "429": "Too many attempts from this address: a page asking to wait.",
}
_HTML_DOC: dict[str, Any] = {
    "security": [],
    "responses": {
        status: {"description": description, "content": {"text/html": {}}}
        for status, description in _HTML_ANSWERS.items()
    },
}

blp = Blueprint(
    "pages",
    __name__,
    description="HTML pages the emails link to: accepting an invitation, and where a renewal "
    "reminder leads. Forms, not API calls: they need the page's CSRF token.",
)


def init_pages(app: Flask, settings: Settings) -> None:
    """What the pages need from the application: the key that signs their session cookie,
    the cookie's attributes, and Swagger UI served from the installed package under its
    policy. Called before the API (and so its documentation page) is set up."""
    app.config.update(
        SECRET_KEY=_session_key(settings.jwt_secret_key),
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.public_base_url.startswith("https://"),
        OPENAPI_SWAGGER_UI_URL=f"{SWAGGER_UI_ASSETS}/",
        # Swagger UI would otherwise send the document to validator.swagger.io for a badge.
        OPENAPI_SWAGGER_UI_CONFIG={"validatorUrl": None},
    )
    app.register_error_handler(NoRoute, _unknown_address)
    assets = resources.files("flask_swagger_ui") / "dist"
    app.register_blueprint(
        FlaskBlueprint(
            "swagger_ui", __name__, static_folder=str(assets), static_url_path=SWAGGER_UI_ASSETS
        )
    )


def _address_of_a_page() -> bool:
    """Whether the request's path lies where the pages are (its first segment is one of
    theirs): a link from an email cut short or mangled, which no route matched."""
    first = request.path.split("/")[1]
    return any(
        rule.endpoint.partition(".")[0] == blp.name and rule.rule.split("/")[1] == first
        for rule in current_app.url_map.iter_rules()
    )


def _unknown_address(exc: NoRoute) -> ResponseReturnValue:
    """404 for an address no route matched: a page where a person following an email's
    link would have been, a problem anywhere else."""
    if _address_of_a_page():
        return _page("link_unknown.html", 404)
    return http_problem(exc)


def _session_key(jwt_secret: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_SESSION_KEY_INFO).derive(
        jwt_secret.encode()
    )


@blp.after_request
def _page_headers(response: Response) -> Response:
    # A page (with its form token, and an invitation's or reset's token in its address)
    # is never kept by a shared browser's cache. Its policy and the rest are every
    # response's (app/security_headers.py).
    response.headers["Cache-Control"] = "no-store"
    return response


def _page(template: str, code: int = 200, **values: Any) -> tuple[str, int]:
    return render_template(f"pages/{template}", **values), code


def _form_expired() -> tuple[str, int] | None:
    """The 400 page for a form whose CSRF token is missing, forged, expired or from
    another browser session; None for a form that may be handled."""
    try:
        validate_csrf(request.form.get("csrf_token"))
    except CSRFError:
        return _page("form_expired.html", 400, retry_url=request.path)
    return None


# --- invitations ----------------------------------------------------------------------


@blp.route("/invitations/<string:token>/accept")
class AcceptInvitationPage(MethodView):
    @limited(blp, *INVITATION_LINKS)
    @blp.doc(**_HTML_DOC)
    def get(self, token: str) -> ResponseReturnValue:
        """The invitation email's link: what the invitation offers, and the form that
        accepts it (a new account's name and password, or signing in to the existing
        account of the invited email). 404 for an unknown token; 410 for an invitation
        accepted, revoked or expired."""
        invitation = invitations.find_by_token(db.session, token, request_id())
        if invitation is None or invitation.status != InvitationStatus.PENDING:
            return _closed(invitation)
        return _accept_form(invitation)

    @limited(blp, *INVITATION_LINKS)
    @blp.doc(**_HTML_DOC)
    def post(self, token: str) -> ResponseReturnValue:
        """Accept the invitation with the page's form (the API's acceptance: the same
        rules, single use). A refused form is shown again with what to fix; nothing is
        written unless the invitation is accepted."""
        if (expired := _form_expired()) is not None:
            return expired
        invitation = invitations.find_by_token(db.session, token, request_id())
        if invitation is None or invitation.status != InvitationStatus.PENDING:
            return _closed(invitation)
        form = request.form
        signing_in = invitations.account_exists(db.session, invitation)
        try:
            if signing_in:
                _sign_in_as_invitee(invitation, form.get("email", ""), form.get("password", ""))
                data: dict[str, Any] = {}
            else:
                data = _new_account(form)
            accepted, user = invitations.accept(db.session, token, data, request_id())
        except Invalid as error:
            return _accept_form(invitation, 422, error=str(error), form=form)
        except Gone:
            # Accepted, revoked or expired since the page was shown (`accept` read the
            # invitation again under its lock).
            return _closed(invitation)
        except Conflict as error:
            return _page("invitation_conflict.html", 409, message=str(error))
        except NotFound:
            return _page("invitation_unknown.html", 404)
        return _page(
            "invitation_accepted.html",
            organization_name=_organization_name(accepted),
            role_label=_role_label(accepted.role),
            email=user.email,
            linked=signing_in,
        )


def _closed(invitation: Invitation | None) -> tuple[str, int]:
    """The page for a token that opens nothing: unknown (404), or an invitation that was
    accepted, revoked or has expired (410)."""
    if invitation is None:
        return _page("invitation_unknown.html", 404)
    return _page(
        "invitation_closed.html",
        410,
        state=invitation.status.value,
        expires_at=_when(invitation.expires_at),
    )


def _accept_form(
    invitation: Invitation,
    code: int = 200,
    error: str | None = None,
    form: Mapping[str, str] | None = None,
) -> tuple[str, int]:
    return _page(
        "invitation_accept.html",
        code,
        invitation=invitation,
        organization_name=_organization_name(invitation),
        role_label=_role_label(invitation.role),
        expires_at=_when(invitation.expires_at),
        account_exists=invitations.account_exists(db.session, invitation),
        csrf_token=generate_csrf(),
        error=error,
        # Passwords are never sent back; the name and email are.
        name=(form or {}).get("name", invitation.name),
        email=(form or {}).get("email", invitation.email),
    )


def _sign_in_as_invitee(invitation: Invitation, email: str, password: str) -> None:
    """Linking an existing account takes its password: only its owner adds it to an
    organization from this page."""
    if email.strip().lower() != invitation.email.lower():
        raise Invalid(
            f"this invitation is for {invitation.email}: sign in with that email", field="email"
        )
    # Guessed like a sign-in's: its failures count toward the account's delay. A right
    # password forgets none of them (it is no sign-in: no second factor is asked here).
    with throttle.guessing(invitation.email, WrongSecret):
        if accounts.authenticate(db.session, invitation.email, password, request_id()) is None:
            raise WrongSecret("wrong email or password", field="password")


def _new_account(form: Mapping[str, str]) -> dict[str, Any]:
    """The new account's name and password, checked by the API's own schema."""
    if form.get("password", "") != form.get("password_confirm", ""):
        raise Invalid("the two passwords differ", field="password_confirm")
    try:
        data: dict[str, Any] = AcceptSchema().load(
            {"name": form.get("name") or None, "password": form.get("password") or None}
        )
    except ValidationError as error:
        raise Invalid(_first_message(error.messages_dict)) from None
    return data


def _first_message(messages: dict[str, Any]) -> str:
    field, problems = next(iter(messages.items()))
    problem = problems[0] if isinstance(problems, list) else problems
    return f"{field}: {problem}"


def _organization_name(invitation: Invitation) -> str:
    organization = db.session.get(Organization, invitation.organization_id)
    return organization.name if organization is not None else "the organization"


def _role_label(role: str) -> str:
    return role.replace("_", " ")


def _when(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


# --- password resets -------------------------------------------------------------------
# The "forgotten password" page sends the link (the API's request: the same answer
# whether or not an account has the email); the link opens the reset page, which sets
# the new password as the API does (same policy, single use, every session ended).


@blp.route("/password-reset")
class ForgottenPasswordPage(MethodView):
    @blp.doc(**_HTML_DOC)
    def get(self) -> ResponseReturnValue:
        """The form that asks for a password reset link by email."""
        return _forgotten_form()

    @limited(blp, *RESET_REQUESTS)
    @blp.doc(**_HTML_DOC)
    def post(self) -> ResponseReturnValue:
        """Email a reset link to the active account with this email, if there is one;
        the page says the same either way."""
        if (expired := _form_expired()) is not None:
            return expired
        email = request.form.get("email", "")
        try:
            data: dict[str, Any] = PasswordResetRequestSchema().load({"email": email})
        except ValidationError as error:
            return _forgotten_form(422, _first_message(error.messages_dict), email)
        send_reset_link(data["email"])
        lifetime = current_settings().password_reset_lifetime
        return _page(
            "password_reset_requested.html",
            message=RESET_REQUESTED,
            minutes=int(lifetime.total_seconds() // 60),
        )


def _forgotten_form(code: int = 200, error: str | None = None, email: str = "") -> tuple[str, int]:
    return _page(
        "password_forgotten.html", code, csrf_token=generate_csrf(), error=error, email=email
    )


@blp.route("/password-reset/<string:token>")
class ResetPasswordPage(MethodView):
    @limited(blp, LINKS_BY_CLIENT, link_token(url_part("token")))
    @blp.doc(**_HTML_DOC)
    def get(self, token: str) -> ResponseReturnValue:
        """The password reset email's link: the form that sets a new password. 404 for an
        unknown token; 410 for a link used, replaced by a newer one or expired."""
        reset = passwords.find_reset(db.session, token, request_id())
        if reset is None or reset.status_at(clock.now()) != PasswordResetStatus.PENDING:
            return _reset_closed(reset)
        return _reset_form(reset)

    @limited(blp, LINKS_BY_CLIENT, link_token(url_part("token")))
    @blp.doc(**_HTML_DOC)
    def post(self, token: str) -> ResponseReturnValue:
        """Set the new password with the page's form (the API's reset). A refused form
        is shown again with what to fix; nothing is written unless the password is set."""
        if (expired := _form_expired()) is not None:
            return expired
        reset = passwords.find_reset(db.session, token, request_id())
        if reset is None or reset.status_at(clock.now()) != PasswordResetStatus.PENDING:
            return _reset_closed(reset)
        form = request.form
        try:
            if form.get("password", "") != form.get("password_confirm", ""):
                raise Invalid("the two passwords differ", field="password_confirm")
            try:
                data: dict[str, Any] = PasswordResetSchema().load(
                    {"token": token, "new_password": form.get("password", "")}
                )
            except ValidationError as error:
                raise Invalid(_first_message(error.messages_dict)) from None
            user = reset_with_link(token, data["new_password"])
        except Invalid as error:
            return _reset_form(reset, 422, error=str(error))
        except (Gone, NotFound) as error:
            # Used, replaced or expired since the page was shown (`reset_with_link` read
            # the link again under its lock), or its account deactivated or deleted.
            return _reset_closed(reset, str(error))
        return _page("password_reset_done.html", email=user.email)


def _reset_closed(reset: PasswordReset | None, message: str | None = None) -> tuple[str, int]:
    """The page for a token that opens nothing: unknown (404), or a link that was used,
    replaced or has expired, or whose account was deactivated (410)."""
    if reset is None:
        return _page("password_reset_unknown.html", 404)
    return _page(
        "password_reset_closed.html",
        410,
        state=reset.status_at(clock.now()).value,
        expires_at=_when(reset.expires_at),
        message=message,
    )


def _reset_form(reset: PasswordReset, code: int = 200, error: str | None = None) -> tuple[str, int]:
    user = passwords.account_of(db.session, reset)
    if user is None or not user.is_active:
        return _reset_closed(reset, passwords.DEACTIVATED)
    return _page(
        "password_reset.html",
        code,
        email=user.email,
        expires_at=_when(reset.expires_at),
        csrf_token=generate_csrf(),
        error=error,
    )


# --- renewal reminders ----------------------------------------------------------------
# The reminder emails link here (app/domain/reminders.py). The link says which item (its
# type and expiry date) and where it lives; the page says what to do about it. Nothing
# is looked up, so a link shows no more than the email that carried it.


@blp.route("/reminders/me/credentials/<uuid:credential_id>")
class OwnCredentialReminderPage(MethodView):
    @blp.doc(**_HTML_DOC)
    def get(self, credential_id: uuid.UUID) -> ResponseReturnValue:
        """A provider's reminder to renew one of their credentials."""
        return _reminder(
            CREDENTIAL_LABELS,
            whose="Your",
            action="Upload the renewed credential, signed in as yourself:",
            endpoint=f"PUT /api/v1/me/credentials/{credential_id}",
        )


@blp.route("/reminders/providers/<uuid:provider_id>/credentials")
class ProviderCredentialReminderPage(MethodView):
    @blp.doc(**_HTML_DOC)
    def get(self, provider_id: uuid.UUID) -> ResponseReturnValue:
        """An organization's reminder that a provider's credential needs renewing."""
        return _reminder(
            CREDENTIAL_LABELS,
            whose="A provider's",
            action="See the provider's credentials, signed in to your organization:",
            endpoint=f"GET /api/v1/admin/providers/{provider_id}/credentials",
        )


@blp.route("/reminders/organizations/<uuid:organization_id>/documents")
class DocumentReminderPage(MethodView):
    @blp.doc(**_HTML_DOC)
    def get(self, organization_id: uuid.UUID) -> ResponseReturnValue:
        """An organization's reminder to upload a current copy of one of its documents."""
        return _reminder(
            DOCUMENT_LABELS,
            whose="Your organization's",
            action="Upload a current copy, signed in as an admin of the organization:",
            endpoint=f"POST /api/v1/admin/organizations/{organization_id}/documents",
        )


def _reminder(labels: Mapping[str, str], whose: str, action: str, endpoint: str) -> tuple[str, int]:
    """The reminder page for the link's `type` (a key of `labels`) and `expires` (its
    ISO date); a link that names neither properly gets a 404 page, not a guess."""
    label = labels.get(request.args.get("type", ""))
    try:
        expires = dt.date.fromisoformat(request.args.get("expires", ""))
    except ValueError:
        expires = None
    if label is None or expires is None:
        return _page("reminder_unknown.html", 404)
    return _page(
        "reminder.html",
        whose=whose,
        label=label,
        expires=expires.isoformat(),
        days_left=(expires - clock.today()).days,
        action=action,
        endpoint=endpoint,
    )
