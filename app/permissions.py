"""Roles and what they may do (the product spec's permission table).

The database policies decide which rows a request can reach; these permissions decide
which actions a role may take on the rows it reaches.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from app.errors import abort
from app.models.enums import Role
from app.tenancy.context import TenantContext
from app.tenancy.request import current_context

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    Role.ORGANIZATION_ADMIN: frozenset(
        {
            "manage-facilities",
            "invite-providers",
            "view-all-orders",
            "manage-billing",
            "view-analytics",
        }
    ),
    Role.OFFICE_MANAGER: frozenset(
        {"manage-providers", "view-facility-orders", "update-facility-info", "run-reports"}
    ),
    Role.PROVIDER: frozenset(
        {"view-own-profile", "update-credentials", "select-facilities", "place-orders"}
    ),
}

ALL_PERMISSIONS = frozenset().union(*ROLE_PERMISSIONS.values())


def permissions_of(context: TenantContext) -> frozenset[str]:
    """MSC admins hold every permission, across tenants."""
    if context.is_msc_admin:
        return ALL_PERMISSIONS
    return ROLE_PERMISSIONS.get(context.role or "", frozenset())


P = ParamSpec("P")
R = TypeVar("R")


def _document_requirement(wrapper: Callable[..., Any], view: Callable[..., Any], text: str) -> None:
    """Append the requirement to the docstring flask-smorest turns into the endpoint's
    OpenAPI description (dedented first, so the description keeps no stray indent)."""
    wrapper.__doc__ = f"{inspect.cleandoc(view.__doc__ or '')}\n\n{text}"


def requires(*permissions: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
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

        _document_requirement(wrapper, view, f"Requires {listed}.")
        return wrapper

    return decorator


def require_msc_admin(view: Callable[P, R]) -> Callable[P, R]:
    @wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        if not current_context().is_msc_admin:
            abort(403, message="this action is reserved to MSC admins")
        return view(*args, **kwargs)

    _document_requirement(wrapper, view, "Requires an MSC admin.")
    return wrapper


def require_role(*roles: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Limit a view to the given roles in the active organization (and MSC admins)."""

    def decorator(view: Callable[P, R]) -> Callable[P, R]:
        @wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            context = current_context()
            if not (context.is_msc_admin or context.role in roles):
                abort(403, message=f"this action requires one of the roles: {', '.join(roles)}")
            return view(*args, **kwargs)

        wrapper.__doc__ = (
            f"{(view.__doc__ or '').rstrip()}\n\nRequires the role {' or '.join(roles)}."
        )
        return wrapper

    return decorator


def sees_personal_contact(context: TenantContext) -> bool:
    """Providers' personal phone numbers (and, later, license and DEA numbers) are shown
    to organization admins and MSC admins only."""
    return context.is_msc_admin or context.role == Role.ORGANIZATION_ADMIN
