"""Tenant isolation: the context every transaction carries, and how it is resolved."""

from app.tenancy.context import TenantContext, apply, use_context
from app.tenancy.resolve import resolve_context

__all__ = ["TenantContext", "apply", "resolve_context", "use_context"]
