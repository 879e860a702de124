"""How the OpenAPI document (/openapi.json) describes what marshmallow's schemas say."""

from __future__ import annotations

from typing import Any

from apispec import BasePlugin
from flask_smorest import Api
from marshmallow import fields

from app.schemas.base import text_pattern
from app.schemas.fields import Money


def money_as_decimal_string(
    _converter: Any, field: fields.Field[Any], ret: dict[str, Any]
) -> dict[str, Any]:
    """An amount (`Money`) is a string in JSON, both ways, with the pattern it is read by;
    apispec would call any decimal field a number."""
    if not isinstance(field, Money):
        return {}
    return {"type": "string", "format": "decimal", "pattern": field.pattern}


def text_without_refused_characters(
    _converter: Any, field: fields.Field[Any], ret: dict[str, Any]
) -> dict[str, Any]:
    """A string's characters as the schemas' base refuses them (app/schemas/base.py), for a
    string with no stricter rule of its own: a format, a pattern or a closed set."""
    if ret.get("type") != "string" or {"format", "pattern", "enum"} & ret.keys():
        return {}
    return {"pattern": text_pattern(field)}


def refine(api: Api) -> None:
    """Teach the document's schema converter what the application's schemas need."""
    api.ma_plugin.converter.add_attribute_function(money_as_decimal_string)
    api.ma_plugin.converter.add_attribute_function(text_without_refused_characters)
    links = WorkflowLinks()
    links.init_spec(api.spec)
    api.spec.plugins.append(links)


# The workflows the document links (OpenAPI links): what a client, or a tester following
# the links, does next with what an operation answered. (operation, status) ->
# {link name: (operation, {parameter: runtime expression})}, operations as "METHOD path".
BY_ID = "$response.body#/id"
LINKS: dict[tuple[str, str], dict[str, tuple[str, dict[str, str]]]] = {
    ("POST /api/v1/admin/organizations", "201"): {
        name: (target, {"organization_id": BY_ID})
        for name, target in {
            "GetOrganization": "GET /api/v1/admin/organizations/{organization_id}",
            "UpdateOrganization": "PUT /api/v1/admin/organizations/{organization_id}",
            "GetHierarchy": "GET /api/v1/admin/organizations/{organization_id}/hierarchy",
            "AddFacility": "POST /api/v1/admin/organizations/{organization_id}/facilities",
            "ListMembers": "GET /api/v1/admin/organizations/{organization_id}/members",
            "UploadDocument": "POST /api/v1/admin/organizations/{organization_id}/documents",
            "GetOnboarding": "GET /api/v1/admin/organizations/{organization_id}/onboarding",
            "GetDashboard": "GET /api/v1/admin/organizations/{organization_id}/dashboard",
            "GetAnalytics": "GET /api/v1/admin/organizations/{organization_id}/analytics",
            "ExportFhir": "GET /api/v1/admin/organizations/{organization_id}/fhir",
        }.items()
    },
    ("POST /api/v1/admin/organizations/{organization_id}/facilities", "201"): {
        "GetFacility": ("GET /api/v1/admin/facilities/{facility_id}", {"facility_id": BY_ID}),
        "UpdateFacility": ("PUT /api/v1/admin/facilities/{facility_id}", {"facility_id": BY_ID}),
        "ListFacilityProviders": (
            "GET /api/v1/admin/facilities/{facility_id}/providers",
            {"facility_id": BY_ID},
        ),
    },
    ("POST /api/v1/admin/providers/{provider_id}/assign-facility", "201"): {
        "EndAssignment": (
            "POST /api/v1/admin/providers/{provider_id}/assignments/{assignment_id}/end",
            {"provider_id": "$request.path.provider_id", "assignment_id": BY_ID},
        ),
        "ListProviderFacilities": (
            "GET /api/v1/admin/providers/{provider_id}/facilities",
            {"provider_id": "$request.path.provider_id"},
        ),
    },
    ("POST /api/v1/admin/providers/invite", "201"): {
        "RevokeInvitation": (
            "POST /api/v1/admin/invitations/{invitation_id}/revoke",
            {"invitation_id": BY_ID},
        ),
    },
    ("POST /api/v1/me/credentials", "201"): {
        "GetCredential": ("GET /api/v1/me/credentials/{credential_id}", {"credential_id": BY_ID}),
        "UpdateCredential": (
            "PUT /api/v1/me/credentials/{credential_id}",
            {"credential_id": BY_ID},
        ),
        "DeleteCredential": (
            "DELETE /api/v1/me/credentials/{credential_id}",
            {"credential_id": BY_ID},
        ),
        "VerifyCredential": (
            "POST /api/v1/admin/providers/{provider_id}/credentials/{credential_id}/verify",
            {"provider_id": "$response.body#/user_id", "credential_id": BY_ID},
        ),
        "RejectCredential": (
            "POST /api/v1/admin/providers/{provider_id}/credentials/{credential_id}/reject",
            {"provider_id": "$response.body#/user_id", "credential_id": BY_ID},
        ),
    },
    **{
        (upload, "201"): {
            "GetDocument": ("GET /api/v1/documents/{document_id}", {"document_id": BY_ID}),
            "GetDocumentContent": (
                "GET /api/v1/documents/{document_id}/content",
                {"document_id": BY_ID},
            ),
            "DeleteDocument": ("DELETE /api/v1/documents/{document_id}", {"document_id": BY_ID}),
        }
        for upload in (
            "POST /api/v1/me/documents",
            "POST /api/v1/admin/organizations/{organization_id}/documents",
        )
    },
    ("POST /api/v1/orders", "201"): {
        "GetOrder": ("GET /api/v1/orders/{order_id}", {"order_id": BY_ID}),
        "ChangeOrderStatus": ("POST /api/v1/orders/{order_id}/status", {"order_id": BY_ID}),
    },
}


def operation_ref(operation: str) -> str:
    """ "METHOD path" as a JSON pointer into the document's paths."""
    method, path = operation.split(" ", 1)
    return "#/paths/" + path.replace("~", "~0").replace("/", "~1") + "/" + method.lower()


class WorkflowLinks(BasePlugin):
    """Puts LINKS on the responses they start from, as apispec registers each path."""

    def operation_helper(
        self, path: str | None = None, operations: dict[str, Any] | None = None, **_: Any
    ) -> None:
        for method, operation in (operations or {}).items():
            for (source, status), links in LINKS.items():
                if source != f"{method.upper()} {path}":
                    continue
                # flask-smorest keys its responses by the status as given: an int
                response = operation["responses"][int(status)]
                response["links"] = {
                    name: {"operationRef": operation_ref(target), "parameters": parameters}
                    for name, (target, parameters) in links.items()
                }
