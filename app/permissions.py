"""Roles and what they may do (the product spec's permission table), and who may call
each view.

The database policies decide which rows a request can reach; these permissions decide
which actions a role may take on the rows it reaches. Every view declares who may call
it: `authenticated` (any signed-in caller) and, for most, `requires` (any permission of
a group) or `require_msc_admin`; views open to anyone declare `security=[]` in their
OpenAPI documentation instead.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from enum import StrEnum
from functools import wraps
from typing import Any, Literal, ParamSpec, TypeVar

from flask_jwt_extended import jwt_required

from app.auth.refresh_cookie import cookie_delivery_asked
from app.errors import abort
from app.models.enums import MSC_REPRESENTATIVE, Role
from app.tenancy.context import TenantContext
from app.tenancy.request import current_context


class Permission(StrEnum):
    MANAGE_FACILITIES = "manage-facilities"
    INVITE_PROVIDERS = "invite-providers"
    VIEW_ALL_ORDERS = "view-all-orders"
    MANAGE_BILLING = "manage-billing"
    VIEW_ANALYTICS = "view-analytics"
    VIEW_AUDIT_TRAIL = "view-audit-trail"
    MANAGE_MEMBERS = "manage-members"
    MANAGE_PROVIDERS = "manage-providers"
    VIEW_FACILITY_ORDERS = "view-facility-orders"
    UPDATE_FACILITY_INFO = "update-facility-info"
    RUN_REPORTS = "run-reports"
    VIEW_OWN_PROFILE = "view-own-profile"
    UPDATE_CREDENTIALS = "update-credentials"
    SELECT_FACILITIES = "select-facilities"
    PLACE_ORDERS = "place-orders"
    VIEW_REPRESENTED_ORGANIZATIONS = "view-represented-organizations"
    EDIT_ORGANIZATION = "edit-organization"
    REVIEW_EXCLUSIONS = "review-exclusions"
    MANAGE_WEBHOOKS = "manage-webhooks"


ROLE_PERMISSIONS: dict[str, frozenset[Permission]] = {
    Role.ORGANIZATION_ADMIN: frozenset(
        {
            Permission.MANAGE_FACILITIES,
            Permission.INVITE_PROVIDERS,
            Permission.VIEW_ALL_ORDERS,
            Permission.MANAGE_BILLING,
            Permission.VIEW_ANALYTICS,
            # Not in the spec's table: organization admins read their organizations'
            # audit trail here, manage their members (roles, deactivation), and edit
            # their organizations' details (app/domain/organizations.py says which).
            Permission.VIEW_AUDIT_TRAIL,
            Permission.MANAGE_MEMBERS,
            Permission.EDIT_ORGANIZATION,
            # Issue 18: read the exclusion screenings of their organizations' providers
            # and decide the candidate matches (app/domain/exclusion_reviews.py).
            Permission.REVIEW_EXCLUSIONS,
            # Issue 19: register their organizations' webhook endpoints, see their
            # events and delivery log, and replay (app/domain/webhooks.py).
            Permission.MANAGE_WEBHOOKS,
        }
    ),
    Role.OFFICE_MANAGER: frozenset(
        {
            Permission.MANAGE_PROVIDERS,
            Permission.VIEW_FACILITY_ORDERS,
            Permission.UPDATE_FACILITY_INFO,
            Permission.RUN_REPORTS,
        }
    ),
    Role.PROVIDER: frozenset(
        {
            Permission.VIEW_OWN_PROFILE,
            Permission.UPDATE_CREDENTIALS,
            Permission.SELECT_FACILITIES,
            Permission.PLACE_ORDERS,
        }
    ),
    # Not in the spec's table: MSC staff who read the organizations they represent, and
    # only the reports below (the groups holding this permission). Writing is refused by
    # the database too: the tenant tables' `<table>_may_write` triggers
    # (`tenancy.may_write_tenant_data`).
    MSC_REPRESENTATIVE: frozenset({Permission.VIEW_REPRESENTED_ORGANIZATIONS}),
}

ALL_PERMISSIONS = frozenset(Permission)

# Permission groups: a view that requires a group allows callers holding any one of its
# permissions. Each group is named for what it lets its holders do, and named once.

# See an organization's providers and what they keep there: their facilities,
# credentials, documents, checklist and NPI check.
SEE_PROVIDERS = (
    Permission.MANAGE_FACILITIES,
    Permission.MANAGE_PROVIDERS,
    Permission.INVITE_PROVIDERS,
)
# Assign providers to facilities and end assignments; verify or reject credentials.
SUPERVISE_PROVIDERS = (Permission.MANAGE_FACILITIES, Permission.MANAGE_PROVIDERS)
# Invite providers, office managers and (organization admins only, app/domain/invitations.py)
# organization admins; list and revoke invitations.
INVITE = (Permission.INVITE_PROVIDERS, Permission.MANAGE_PROVIDERS)
# See facilities and who works there: those who run them, and those who manage the
# providers assigned to them.
SEE_FACILITIES = (
    Permission.MANAGE_FACILITIES,
    Permission.UPDATE_FACILITY_INFO,
    Permission.MANAGE_PROVIDERS,
)
# Run the organization's facilities: edit their information.
RUN_FACILITIES = (Permission.MANAGE_FACILITIES, Permission.UPDATE_FACILITY_INFO)
# Follow the organization's structure (its hierarchy) and set-up (its onboarding
# progress): whoever runs its facilities, and its MSC representative.
FOLLOW_ORGANIZATION = (*RUN_FACILITIES, Permission.VIEW_REPRESENTED_ORGANIZATIONS)
# See orders and move them along. Which orders (own, the facilities', all) and which
# status changes follow from the permission held, in the domain.
HANDLE_ORDERS = (
    Permission.PLACE_ORDERS,
    Permission.VIEW_ALL_ORDERS,
    Permission.VIEW_FACILITY_ORDERS,
)
# Dashboards and analytics.
SEE_REPORTS = (Permission.VIEW_ANALYTICS, Permission.RUN_REPORTS)
# The dashboard: a report, and the overview an MSC representative follows.
SEE_DASHBOARD = (*SEE_REPORTS, Permission.VIEW_REPRESENTED_ORGANIZATIONS)
# Compliance scores and expirations: a report, also the working list of whoever manages
# providers and chases their expiring credentials, and what an MSC representative follows.
SEE_COMPLIANCE = (
    *SEE_REPORTS,
    Permission.MANAGE_PROVIDERS,
    Permission.VIEW_REPRESENTED_ORGANIZATIONS,
)
# The exclusion screenings and the review queue: the organization's admins, who decide,
# and its MSC representative, who follows (the policies show them; the database refuses
# a representative's decision as every write of theirs).
SEE_SCREENINGS = (Permission.REVIEW_EXCLUSIONS, Permission.VIEW_REPRESENTED_ORGANIZATIONS)
# Export the organization's structure as FHIR.
EXPORT_FHIR = (Permission.MANAGE_FACILITIES, Permission.VIEW_ANALYTICS)
# A provider's own documents.
SEE_OWN_DOCUMENTS = (Permission.UPDATE_CREDENTIALS, Permission.VIEW_OWN_PROFILE)
# Open a document the policies show (its details and its file): the owner's side (a
# provider; an organization's billing admins) and the staff who see providers. Not an MSC
# representative, whose reports read documents' dates but who is handed no document.
OPEN_DOCUMENTS = (*SEE_OWN_DOCUMENTS, Permission.MANAGE_BILLING, *SEE_PROVIDERS)
# Vet providers: decide the review items of their license cross-check (and see its
# evidence): an organization's admins, who admit providers, and MSC admins.
VET_PROVIDERS = (Permission.INVITE_PROVIDERS,)
# Delete documents from the owner's side: an organization's billing documents, a
# provider's own.
DELETE_DOCUMENTS = (Permission.MANAGE_BILLING, Permission.UPDATE_CREDENTIALS)


def permissions_of(context: TenantContext) -> frozenset[Permission]:
    """MSC admins hold every permission, across tenants."""
    if context.is_msc_admin:
        return ALL_PERMISSIONS
    return ROLE_PERMISSIONS.get(context.role or "", frozenset())


P = ParamSpec("P")
R = TypeVar("R")

# The attributes on which the decorators below record what they check, read by the test
# that keeps every route's requirement (functools.wraps carries them up through the
# decorators stacked above).
REQUIRES = "__requires__"
AUTHENTICATED = "__authenticated__"

Token = Literal["access", "refresh", "either"]


# (bandit B105-B107: `token` names a kind of token, never holds one)
def authenticated(
    token: Token = "access", *, refresh_cookie: bool = False
) -> Callable[[Callable[P, R]], Callable[P, R]]:  # nosec
    """Allow the view to any caller presenting a valid `token` ("either": an access or a
    refresh token). Verifying the token sets the request's tenant context, so this comes
    first, above `requires` or `require_msc_admin`. With `refresh_cookie`, a request asking
    for cookie delivery may present its token in the refresh cookie instead of the
    Authorization header (app/auth/refresh_cookie.py); without that header the cookie is
    never read, so a forged cross-site request cannot use it."""
    refresh, verify_type = token == "refresh", token != "either"  # nosec

    def decorator(view: Callable[P, R]) -> Callable[P, R]:
        by_header: Callable[P, R] = jwt_required(refresh=refresh, verify_type=verify_type)(view)
        if not refresh_cookie:
            setattr(by_header, AUTHENTICATED, token)
            return by_header
        by_header_or_cookie: Callable[P, R] = jwt_required(
            refresh=refresh, verify_type=verify_type, locations=["headers", "cookies"]
        )(view)

        @wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            verified = by_header_or_cookie if cookie_delivery_asked() else by_header
            return verified(*args, **kwargs)

        setattr(wrapper, AUTHENTICATED, token)
        return wrapper

    return decorator


def _declare(
    wrapper: Callable[..., Any], view: Callable[..., Any], requirement: object, text: str
) -> None:
    """Record the requirement, and append it to the docstring flask-smorest turns into the
    endpoint's OpenAPI description (dedented first, so the description keeps no stray
    indent)."""
    setattr(wrapper, REQUIRES, requirement)
    wrapper.__doc__ = f"{inspect.cleandoc(view.__doc__ or '')}\n\n{text}"


def requires(*permissions: Permission) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Allow the view to callers holding any of `permissions` (MSC admins hold all).

    The requirement is appended to the view's docstring, so it shows in the endpoint's
    OpenAPI description next to where it is enforced.
    """
    unknown = set(permissions) - ALL_PERMISSIONS
    if unknown or not permissions:
        raise ValueError(f"unknown permissions {sorted(unknown)!r}")
    listed = " or ".join(f"`{p}`" for p in permissions)

    def decorator(view: Callable[P, R]) -> Callable[P, R]:
        @wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            held = permissions_of(current_context())
            if held.isdisjoint(permissions):
                abort(403, message=f"this action requires the {listed} permission")
            return view(*args, **kwargs)

        _declare(wrapper, view, permissions, f"Requires {listed}.")
        return wrapper

    return decorator


def require_msc_admin(view: Callable[P, R]) -> Callable[P, R]:
    @wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        if not current_context().is_msc_admin:
            abort(403, message="this action is reserved to MSC admins")
        return view(*args, **kwargs)

    _declare(wrapper, view, "msc-admin", "Requires an MSC admin.")
    return wrapper


def sees_personal_contact(context: TenantContext) -> bool:
    """Providers' personal phone numbers (and, later, license and DEA numbers) are shown
    to organization admins and MSC admins only."""
    return context.is_msc_admin or context.role == Role.ORGANIZATION_ADMIN
