"""Who may call each route, kept as a snapshot.

Every view declares who may call it: `authenticated` and, for most, `requires(...)` or
`require_msc_admin` (app/permissions.py); views open to anyone document `security=[]`
in the OpenAPI document. A new route, or a route whose requirement changed, fails here
until the snapshot below says so.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask_smorest.spec.plugins import FlaskPlugin
from marshmallow import Schema

from app.models.enums import MSC_REPRESENTATIVE
from app.permissions import (
    AUTHENTICATED,
    REQUIRES,
    ROLE_PERMISSIONS,
    Permission,
    authenticated,
    require_msc_admin,
    requires,
)
from app.request_body import Blueprint

# Served by Flask and flask-smorest themselves: static files, the OpenAPI document, its UI
# and the UI's files.
FRAMEWORK_ENDPOINTS = {
    "static",
    "api-docs.openapi_json",
    "api-docs.openapi_swagger_ui",
    "swagger_ui.static",
    # The console's page and files: public, as a static file is (the app calls the API).
    "console.console",
}

AUTHENTICATED_WITH = {
    "access": "authenticated",
    "refresh": "authenticated (refresh token)",
    "either": "authenticated (access or refresh token)",
}

Requirement = str | tuple[str, ...]

# Whoever may open a document the policies show: every role's but an MSC representative's.
OPEN_DOCUMENTS = (
    "invite-providers",
    "manage-billing",
    "manage-facilities",
    "manage-providers",
    "update-credentials",
    "view-own-profile",
)

# The exclusion screenings and their review queue: the organization's admins and its MSC
# representative.
SEE_SCREENINGS = ("review-exclusions", "view-represented-organizations")

# An organization's webhooks: its admins'.
WEBHOOKS = ("manage-webhooks",)
WEBHOOK_ENDPOINTS = "/api/v1/admin/organizations/{organization_id}/webhook-endpoints"
WEBHOOK_ENDPOINT = f"{WEBHOOK_ENDPOINTS}/{{endpoint_id}}"
WEBHOOK_EVENTS = "/api/v1/admin/organizations/{organization_id}/webhook-events"

ROUTES: dict[str, Requirement] = {
    "GET /api/v1/admin/analytics": "msc-admin",
    "GET /api/v1/admin/audit-events": ("view-audit-trail",),
    "GET /api/v1/admin/exclusion-matches": SEE_SCREENINGS,
    "GET /api/v1/admin/exclusion-matches/{match_id}": SEE_SCREENINGS,
    "POST /api/v1/admin/exclusion-matches/{match_id}/decision": ("review-exclusions",),
    "GET /api/v1/admin/screenings": SEE_SCREENINGS,
    "GET /api/v1/admin/screenings/export": SEE_SCREENINGS,
    "GET /api/v1/admin/providers/{provider_id}/screenings": SEE_SCREENINGS,
    "GET /api/v1/admin/webhook-event-types": WEBHOOKS,
    f"GET {WEBHOOK_ENDPOINTS}": WEBHOOKS,
    f"POST {WEBHOOK_ENDPOINTS}": WEBHOOKS,
    f"GET {WEBHOOK_ENDPOINT}": WEBHOOKS,
    f"PATCH {WEBHOOK_ENDPOINT}": WEBHOOKS,
    f"DELETE {WEBHOOK_ENDPOINT}": WEBHOOKS,
    f"POST {WEBHOOK_ENDPOINT}/secret-rotations": WEBHOOKS,
    f"POST {WEBHOOK_ENDPOINT}/replays": WEBHOOKS,
    f"GET {WEBHOOK_ENDPOINT}/deliveries": WEBHOOKS,
    f"GET {WEBHOOK_ENDPOINT}/attempts": WEBHOOKS,
    f"GET {WEBHOOK_EVENTS}": WEBHOOKS,
    f"GET {WEBHOOK_EVENTS}/{{event_id}}/attempts": WEBHOOKS,
    "GET /api/v1/admin/audit-events/export": ("view-audit-trail",),
    "GET /api/v1/admin/compliance": (
        "manage-providers",
        "run-reports",
        "view-analytics",
        "view-represented-organizations",
    ),
    "GET /api/v1/admin/compliance/expirations": (
        "manage-providers",
        "run-reports",
        "view-analytics",
        "view-represented-organizations",
    ),
    "GET /api/v1/admin/facilities": (
        "manage-facilities",
        "manage-providers",
        "update-facility-info",
    ),
    "GET /api/v1/admin/facilities/{facility_id}": (
        "manage-facilities",
        "manage-providers",
        "update-facility-info",
    ),
    "PUT /api/v1/admin/facilities/{facility_id}": (
        "manage-facilities",
        "update-facility-info",
    ),
    "GET /api/v1/admin/facilities/{facility_id}/providers": (
        "manage-facilities",
        "manage-providers",
        "update-facility-info",
    ),
    "GET /api/v1/admin/invitations": ("invite-providers", "manage-providers"),
    "GET /api/v1/admin/organizations/{organization_id}/license-checks": ("invite-providers",),
    "GET /api/v1/admin/providers/{provider_id}/credentials/{credential_id}/license-checks": (
        "invite-providers",
    ),
    "POST /api/v1/admin/license-checks/{check_id}/decision": ("invite-providers",),
    "GET /api/v1/admin/members/{membership_id}": ("manage-members",),
    "PUT /api/v1/admin/members/{membership_id}": ("manage-members",),
    "POST /api/v1/admin/members/{membership_id}/deactivate": ("manage-members",),
    "POST /api/v1/admin/members/{membership_id}/reactivate": ("manage-members",),
    "POST /api/v1/admin/invitations/{invitation_id}/revoke": (
        "invite-providers",
        "manage-providers",
    ),
    "GET /api/v1/admin/organizations": "authenticated",
    "POST /api/v1/admin/organizations": "msc-admin",
    "GET /api/v1/admin/organizations/{organization_id}": "authenticated",
    "PUT /api/v1/admin/organizations/{organization_id}": ("edit-organization",),
    "GET /api/v1/admin/organizations/{organization_id}/analytics": (
        "run-reports",
        "view-analytics",
    ),
    "GET /api/v1/admin/organizations/{organization_id}/dashboard": (
        "run-reports",
        "view-analytics",
        "view-represented-organizations",
    ),
    "GET /api/v1/admin/organizations/{organization_id}/documents": ("manage-billing",),
    "POST /api/v1/admin/organizations/{organization_id}/documents": ("manage-billing",),
    "POST /api/v1/admin/organizations/{organization_id}/facilities": ("manage-facilities",),
    "GET /api/v1/admin/organizations/{organization_id}/members": ("manage-members",),
    "GET /api/v1/admin/organizations/{organization_id}/fhir": (
        "manage-facilities",
        "view-analytics",
    ),
    "GET /api/v1/admin/organizations/{organization_id}/hierarchy": (
        "manage-facilities",
        "update-facility-info",
        "view-represented-organizations",
    ),
    "GET /api/v1/admin/organizations/{organization_id}/onboarding": (
        "manage-facilities",
        "update-facility-info",
        "view-represented-organizations",
    ),
    "POST /api/v1/admin/organizations/{organization_id}/onboarding/steps/{step}/complete": (
        "manage-facilities",
    ),
    "POST /api/v1/admin/organizations/{organization_id}/onboarding/steps/{step}/reopen": (
        "manage-facilities",
    ),
    "GET /api/v1/admin/outbox": "msc-admin",
    "POST /api/v1/admin/outbox/{message_id}/retry": "msc-admin",
    "GET /api/v1/admin/providers": ("invite-providers", "manage-facilities", "manage-providers"),
    "GET /api/v1/admin/providers/{provider_id}": (
        "invite-providers",
        "manage-facilities",
        "manage-providers",
    ),
    "POST /api/v1/admin/providers/{provider_id}/assign-facility": (
        "manage-facilities",
        "manage-providers",
    ),
    "POST /api/v1/admin/providers/{provider_id}/assignments/{assignment_id}/end": (
        "manage-facilities",
        "manage-providers",
    ),
    "POST /api/v1/admin/providers/{provider_id}/assignments/{assignment_id}/make-primary": (
        "manage-facilities",
        "manage-providers",
    ),
    "GET /api/v1/admin/providers/{provider_id}/compliance": (
        "manage-providers",
        "run-reports",
        "view-analytics",
        "view-represented-organizations",
    ),
    "GET /api/v1/admin/providers/{provider_id}/credentials": (
        "invite-providers",
        "manage-facilities",
        "manage-providers",
    ),
    "GET /api/v1/admin/providers/{provider_id}/credentials/{credential_id}": (
        "invite-providers",
        "manage-facilities",
        "manage-providers",
    ),
    "POST /api/v1/admin/providers/{provider_id}/credentials/{credential_id}/reject": (
        "manage-facilities",
        "manage-providers",
    ),
    "POST /api/v1/admin/providers/{provider_id}/credentials/{credential_id}/verify": (
        "manage-facilities",
        "manage-providers",
    ),
    "GET /api/v1/admin/providers/{provider_id}/documents": (
        "invite-providers",
        "manage-facilities",
        "manage-providers",
    ),
    "GET /api/v1/admin/providers/{provider_id}/facilities": (
        "invite-providers",
        "manage-facilities",
        "manage-providers",
    ),
    "POST /api/v1/admin/providers/{provider_id}/npi/verify": (
        "invite-providers",
        "manage-facilities",
        "manage-providers",
    ),
    "GET /api/v1/admin/providers/{provider_id}/onboarding": (
        "invite-providers",
        "manage-facilities",
        "manage-providers",
    ),
    "POST /api/v1/admin/providers/invite": ("invite-providers", "manage-providers"),
    "GET /api/v1/admin/representatives": "msc-admin",
    "PUT /api/v1/admin/representatives/{user_id}": "msc-admin",
    "DELETE /api/v1/admin/representatives/{user_id}": "msc-admin",
    "POST /api/v1/admin/users/{user_id}/deactivate": "msc-admin",
    "POST /api/v1/admin/users/{user_id}/reactivate": "msc-admin",
    "POST /api/v1/auth/login": "public",
    # The MFA token in the body is the capability.
    "POST /api/v1/auth/login/mfa": "public",
    "POST /api/v1/auth/login/mfa/enrollment": "public",
    "POST /api/v1/auth/login/mfa/enrollment/confirm": "public",
    "GET /api/v1/auth/mfa": "authenticated",
    "POST /api/v1/auth/mfa/disable": "authenticated",
    "POST /api/v1/auth/mfa/enrollment": "authenticated",
    "POST /api/v1/auth/mfa/enrollment/confirm": "authenticated",
    "POST /api/v1/auth/mfa/recovery-codes": "authenticated",
    "POST /api/v1/auth/logout": "authenticated (access or refresh token)",
    "POST /api/v1/auth/password": "authenticated",
    "POST /api/v1/auth/password-reset": "public",
    "POST /api/v1/auth/password-reset/confirm": "public",
    "POST /api/v1/auth/refresh": "authenticated (refresh token)",
    "GET /api/v1/auth/sessions": "authenticated",
    "DELETE /api/v1/auth/sessions/{session_id}": "authenticated",
    "POST /api/v1/auth/sessions/end-others": "authenticated",
    "POST /api/v1/auth/switch-organization": "authenticated",
    "DELETE /api/v1/documents/{document_id}": ("manage-billing", "update-credentials"),
    "GET /api/v1/documents/{document_id}": OPEN_DOCUMENTS,
    "GET /api/v1/documents/{document_id}/content": OPEN_DOCUMENTS,
    "GET /api/v1/invitations/{token}": "public",
    "POST /api/v1/invitations/{token}/accept": "public",
    "GET /api/v1/me": "authenticated",
    "PUT /api/v1/me": "authenticated",
    "GET /api/v1/me/compliance": "authenticated",
    "GET /api/v1/me/credentials": ("update-credentials",),
    "POST /api/v1/me/credentials": ("update-credentials",),
    "DELETE /api/v1/me/credentials/{credential_id}": ("update-credentials",),
    "GET /api/v1/me/credentials/{credential_id}": ("update-credentials",),
    "PUT /api/v1/me/credentials/{credential_id}": ("update-credentials",),
    "GET /api/v1/me/documents": ("update-credentials", "view-own-profile"),
    "POST /api/v1/me/documents": ("update-credentials",),
    "GET /api/v1/me/facilities": "authenticated",
    "POST /api/v1/me/npi/verify": "authenticated",
    "GET /api/v1/me/onboarding": "authenticated",
    "POST /api/v1/me/primary-facility": ("select-facilities",),
    "GET /api/v1/npi/{npi}": ("invite-providers", "manage-facilities", "manage-providers"),
    "GET /api/v1/orders": ("place-orders", "view-all-orders", "view-facility-orders"),
    "GET /api/v1/reference/places-of-service": "authenticated",
    "POST /api/v1/orders": ("place-orders",),
    "GET /api/v1/orders/{order_id}": (
        "place-orders",
        "view-all-orders",
        "view-facility-orders",
    ),
    "POST /api/v1/orders/{order_id}/status": (
        "place-orders",
        "view-all-orders",
        "view-facility-orders",
    ),
    "GET /healthz": "public",
    "GET /readyz": "public",
    # The pages behind the email links (the token in the address is the capability).
    "GET /invitations/{token}/accept": "public",
    "POST /invitations/{token}/accept": "public",
    "GET /password-reset": "public",
    "POST /password-reset": "public",
    "GET /password-reset/{token}": "public",
    "POST /password-reset/{token}": "public",
    "GET /reminders/me/credentials/{credential_id}": "public",
    "GET /reminders/organizations/{organization_id}/documents": "public",
    "GET /reminders/providers/{provider_id}/credentials": "public",
}

# What an MSC representative's permission opens: the reports of the organizations they
# represent, and nothing else. (Of the routes open to every signed-in user, they keep up
# their own account and read the organizations they act for; the database refuses every
# write of theirs to tenant data: tests/test_representatives.py.)
REPRESENTATIVE_ROUTES = {
    "GET /api/v1/admin/organizations/{organization_id}/hierarchy",
    "GET /api/v1/admin/organizations/{organization_id}/dashboard",
    "GET /api/v1/admin/organizations/{organization_id}/onboarding",
    "GET /api/v1/admin/compliance",
    "GET /api/v1/admin/compliance/expirations",
    "GET /api/v1/admin/providers/{provider_id}/compliance",
    "GET /api/v1/admin/screenings",
    "GET /api/v1/admin/screenings/export",
    "GET /api/v1/admin/providers/{provider_id}/screenings",
    "GET /api/v1/admin/exclusion-matches",
    "GET /api/v1/admin/exclusion-matches/{match_id}",
}


def _requirement(view: Any, operation: dict[str, Any]) -> Requirement:
    token = getattr(view, AUTHENTICATED, None)
    checked = getattr(view, REQUIRES, None)
    if operation.get("security") == []:
        if token is None and checked is None:
            return "public"
        return f"documented as public, yet checks {token} {checked}"
    if token is None:
        return "undeclared" if checked is None else f"checks {checked} before signing in"
    if checked is None:
        return AUTHENTICATED_WITH[token]
    if token != "access":
        return f"checks {checked} with a {token} token"
    return checked if isinstance(checked, str) else tuple(sorted(map(str, checked)))


def _requirements(app: Flask) -> dict[str, Requirement]:
    paths = app.test_client().get("/openapi.json").get_json()["paths"]
    found: dict[str, Requirement] = {}
    for rule in app.url_map.iter_rules():
        view_class = getattr(app.view_functions[rule.endpoint], "view_class", None)
        if view_class is None:
            assert rule.endpoint in FRAMEWORK_ENDPOINTS, f"{rule.rule} is not a MethodView"
            continue
        path = FlaskPlugin.flaskpath2openapi(rule.rule)
        for method in sorted(view_class.methods):
            view = getattr(view_class, method.lower())
            found[f"{method} {path}"] = _requirement(view, paths[path][method.lower()])
    return found


def test_every_route_declares_who_may_call_it(app: Flask) -> None:
    known = {"public", "msc-admin", *AUTHENTICATED_WITH.values()}
    assert {
        route: requirement
        for route, requirement in _requirements(app).items()
        if isinstance(requirement, str) and requirement not in known
    } == {}


def test_each_route_requires_what_the_snapshot_says(app: Flask) -> None:
    assert _requirements(app) == ROUTES


def test_an_msc_representative_is_allowed_exactly_the_reports(app: Flask) -> None:
    held = ROLE_PERMISSIONS[MSC_REPRESENTATIVE]
    allowed = {
        route
        for route, requirement in _requirements(app).items()
        if isinstance(requirement, tuple) and not held.isdisjoint(requirement)
    }
    assert allowed == REPRESENTATIVE_ROUTES


@pytest.mark.parametrize(
    "check",
    [authenticated(), requires(Permission.PLACE_ORDERS), require_msc_admin],
    ids=["authenticated", "requires", "require_msc_admin"],
)
def test_a_view_reads_its_arguments_only_once_the_caller_may_call_it(
    check: Callable[[Callable[..., Any]], Callable[..., Any]],
) -> None:
    """`@blp.arguments` above the token or permission check would answer a caller who may
    not call the view with what is wrong in their request (422): it is refused as the
    view is declared."""
    blp = Blueprint("order-check", __name__)

    def view(data: dict[str, Any]) -> None:
        """A view."""

    check(blp.arguments(Schema)(view))
    with pytest.raises(TypeError, match="goes below"):
        blp.arguments(Schema)(check(view))
