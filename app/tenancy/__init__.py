"""Tenant isolation: the context every transaction carries, and how it is resolved."""

from app.tenancy.context import TenantContext, apply, install_context_listener, use_context
from app.tenancy.resolve import resolve_context

__all__ = ["TenantContext", "apply", "install_context_listener", "resolve_context", "use_context"]
