"""Roles and what they may do (the product spec's permission table).

The database policies decide which rows a request can reach; these permissions decide
which actions a role may take on the rows it reaches.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

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


def has_permission(context: TenantContext, permission: str) -> bool:
    return permission in permissions_of(context)


P = ParamSpec("P")
R = TypeVar("R")


def require_permission(permission: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    if permission not in ALL_PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r}")

    def decorator(view: Callable[P, R]) -> Callable[P, R]:
        @wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            if not has_permission(current_context(), permission):
                abort(403, message=f"this action requires the {permission!r} permission")
            return view(*args, **kwargs)

        return wrapper

    return decorator


def require_msc_admin(view: Callable[P, R]) -> Callable[P, R]:
    @wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        if not current_context().is_msc_admin:
            abort(403, message="this action is reserved to MSC admins")
        return view(*args, **kwargs)

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

        return wrapper

    return decorator
