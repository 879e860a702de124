"""The signed-in user."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_jwt_extended import jwt_required
from flask_smorest import Blueprint

from app.domain import accounts
from app.extensions import db
from app.models import User
from app.permissions import permissions_of
from app.schemas.auth import MeSchema
from app.tenancy.request import current_context

blp = Blueprint("me", __name__, url_prefix="/api/v1/me", description="The signed-in user.")


@blp.route("")
class Me(MethodView):
    @jwt_required()
    @blp.response(200, MeSchema)
    def get(self) -> dict[str, Any]:
        """Profile, active organization and role, permissions, and every membership."""
        context = current_context()
        user = db.session.get(User, context.user_id)
        assert user is not None
        return {
            "id": user.id,
            "email": user.email,
            "name": user.name,
            "phone": user.phone,
            "npi": user.npi,
            "is_msc_admin": user.is_msc_admin,
            "organization_id": context.organization_id,
            "role": context.role,
            "permissions": sorted(permissions_of(context)),
            "memberships": accounts.memberships_of(db.session, user.id),
        }
