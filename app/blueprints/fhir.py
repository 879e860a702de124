"""FHIR R4 export of an organization's tree, for partners' EHR and supply systems."""

from __future__ import annotations

import json
import uuid
from typing import Any

from flask import Response
from flask.views import MethodView

from app.blueprints.lookups import organization_or_404
from app.domain import access
from app.domain.fhir import organization_bundle
from app.extensions import db
from app.models.enums import AccessPurpose
from app.permissions import EXPORT_FHIR, authenticated, requires
from app.request_body import Blueprint
from app.schemas.fhir import FhirQuerySchema

FHIR_JSON = "application/fhir+json"

blp = Blueprint(
    "fhir",
    __name__,
    url_prefix="/api/v1/admin/organizations",
    description="FHIR R4 exports of an organization's structure.",
)


# The body is built as plain dicts and sent under the FHIR media type, so no marshmallow
# response schema applies; the OpenAPI document still names the type and the media type.
_BUNDLE_DOC = {
    "responses": {
        "200": {
            "description": "A FHIR R4 Bundle of type `collection`: Organization, Location, "
            "Practitioner and PractitionerRole resources, each with `meta.lastUpdated` and, "
            "in `meta.profile`, the US Core and Da Vinci PDex Plan-Net profiles it meets.",
            "content": {
                FHIR_JSON: {
                    "schema": {
                        "type": "object",
                        "externalDocs": {"url": "https://hl7.org/fhir/R4/bundle.html"},
                    }
                }
            },
        }
    }
}


@blp.route("/<uuid:organization_id>/fhir")
class OrganizationFhir(MethodView):
    @authenticated()
    @requires(*EXPORT_FHIR)
    @blp.arguments(FhirQuerySchema, location="query")
    @blp.doc(**_BUNDLE_DOC)
    def get(self, query: dict[str, Any], organization_id: uuid.UUID) -> Response:
        """The organization, its descendants, their facilities, providers and assignments
        as a FHIR R4 Bundle, in a constant number of queries. Current facilities and
        assignments only, unless `include_inactive`. Recorded in the organization's audit
        trail as an export."""
        organization = organization_or_404(organization_id, in_scope=True)
        bundle = organization_bundle(
            db.session, organization, include_inactive=query["include_inactive"]
        )
        access.record(db.session, [access.export(organization.id, AccessPurpose.FHIR_EXPORT)])
        return Response(json.dumps(bundle), mimetype=FHIR_JSON)
