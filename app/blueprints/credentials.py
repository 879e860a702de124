"""Provider credentials: kept by the provider, verified by the organizations' staff."""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView
from sqlalchemy import Select

from app import clock
from app.blueprints.lookups import provider_or_404
from app.domain import access
from app.domain import credentials as rules
from app.domain.errors import NotFound
from app.extensions import db
from app.models import Credential, User
from app.pagination import SelectPage
from app.permissions import SEE_PROVIDERS, SUPERVISE_PROVIDERS, Permission, authenticated, requires
from app.request_body import Blueprint
from app.schemas.credentials import (
    CredentialCreateSchema,
    CredentialSchema,
    CredentialUpdateSchema,
    RejectionSchema,
)
from app.tenancy.request import current_context

blp = Blueprint(
    "credentials",
    __name__,
    url_prefix="/api/v1",
    description="Credentials (medical license, DEA registration, malpractice insurance, "
    "board certification). The provider keeps them; every organization the provider works "
    "for sees them and may verify or reject them. Expiry follows from the date.",
)


def _own(credential_id: uuid.UUID) -> Credential:
    credential = db.session.get(Credential, credential_id)
    if credential is None or credential.user_id != current_context().user_id:
        raise NotFound("credential not found")
    return credential


def _of_provider(provider: User, credential_id: uuid.UUID) -> Credential:
    credential = db.session.get(Credential, credential_id)
    if credential is None or credential.user_id != provider.id:
        raise NotFound("credential not found")
    return credential


@blp.route("/me/credentials")
class MyCredentials(MethodView):
    @authenticated()
    @requires(Permission.UPDATE_CREDENTIALS)
    @blp.response(200, CredentialSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self) -> Select[Credential]:
        """Your credentials."""
        user_id = current_context().user_id
        assert user_id is not None
        return rules.credentials_of(user_id)

    @authenticated()
    @requires(Permission.UPDATE_CREDENTIALS)
    @blp.arguments(CredentialCreateSchema)
    @blp.response(201, CredentialSchema)
    def post(self, data: dict[str, Any]) -> Credential:
        """Add a credential. A medical license needs state, number and expiry; a DEA
        registration state, a valid number, schedules and expiry; malpractice insurance
        carrier (issuer), policy number, coverage amounts, effective and expiry dates; a
        board certification the board (issuer) and specialty."""
        user_id = current_context().user_id
        assert user_id is not None
        return rules.create(db.session, user_id, data)


@blp.route("/me/credentials/<uuid:credential_id>")
class MyCredential(MethodView):
    @authenticated()
    @requires(Permission.UPDATE_CREDENTIALS)
    @blp.response(200, CredentialSchema)
    def get(self, credential_id: uuid.UUID) -> Credential:
        """One of your credentials."""
        return _own(credential_id)

    @authenticated()
    @requires(Permission.UPDATE_CREDENTIALS)
    @blp.arguments(CredentialUpdateSchema)
    @blp.response(200, CredentialSchema)
    def put(self, changes: dict[str, Any], credential_id: uuid.UUID) -> Credential:
        """Update a credential (only the fields sent); it becomes unverified again."""
        return rules.update(db.session, _own(credential_id), changes)

    @authenticated()
    @requires(Permission.UPDATE_CREDENTIALS)
    @blp.response(204)
    def delete(self, credential_id: uuid.UUID) -> None:
        """Remove a credential."""
        db.session.delete(_own(credential_id))
        db.session.flush()


@blp.route("/admin/providers/<uuid:provider_id>/credentials")
class ProviderCredentials(MethodView):
    @authenticated()
    @requires(*SEE_PROVIDERS)
    @blp.response(200, CredentialSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self, provider_id: uuid.UUID) -> Select[Credential]:
        """A provider's credentials (the same for every organization they work for).
        Read from outside the provider's organizations (by MSC staff or an admin of a
        parent organization), recorded in the audit trail."""
        provider = provider_or_404(provider_id)
        access.record(db.session, access.credential_list(current_context(), provider))
        return rules.credentials_of(provider.id)


@blp.route("/admin/providers/<uuid:provider_id>/credentials/<uuid:credential_id>")
class ProviderCredential(MethodView):
    @authenticated()
    @requires(*SEE_PROVIDERS)
    @blp.response(200, CredentialSchema)
    def get(self, provider_id: uuid.UUID, credential_id: uuid.UUID) -> Credential:
        """One of a provider's credentials. Read from outside the provider's
        organizations (by MSC staff or an admin of a parent organization), recorded in
        the audit trail."""
        credential = _of_provider(provider_or_404(provider_id), credential_id)
        access.record(db.session, access.credential_read(current_context(), credential))
        return credential


@blp.route("/admin/providers/<uuid:provider_id>/credentials/<uuid:credential_id>/verify")
class VerifyCredential(MethodView):
    @authenticated()
    @requires(*SUPERVISE_PROVIDERS)
    @blp.response(200, CredentialSchema)
    @blp.alt_response(409, description="an expired credential cannot be verified")
    def post(self, provider_id: uuid.UUID, credential_id: uuid.UUID) -> Credential:
        """Mark a credential verified (not an expired one)."""
        credential = _of_provider(provider_or_404(provider_id), credential_id)
        return rules.verify(db.session, current_context(), credential, clock.now())


@blp.route("/admin/providers/<uuid:provider_id>/credentials/<uuid:credential_id>/reject")
class RejectCredential(MethodView):
    @authenticated()
    @requires(*SUPERVISE_PROVIDERS)
    @blp.arguments(RejectionSchema)
    @blp.response(200, CredentialSchema)
    def post(
        self, data: dict[str, Any], provider_id: uuid.UUID, credential_id: uuid.UUID
    ) -> Credential:
        """Reject a credential, with the reason the provider will see."""
        credential = _of_provider(provider_or_404(provider_id), credential_id)
        return rules.reject(db.session, current_context(), credential, data["reason"], clock.now())
