"""MSC representatives: who they are, as MSC admins manage them."""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView

from app.blueprints.lookups import account_or_404
from app.domain import representatives
from app.domain.queries import Rows
from app.extensions import db
from app.pagination import SelectPage
from app.permissions import authenticated, require_msc_admin
from app.request_body import Blueprint
from app.schemas.representatives import RepresentativeSchema

blp = Blueprint(
    "representatives",
    __name__,
    url_prefix="/api/v1/admin/representatives",
    description="MSC representatives: MSC staff who read the organizations naming them as "
    "their representative (`msc_representative_id`, set with the organization) and those "
    "organizations' descendants: hierarchy, dashboard, compliance and onboarding, and "
    "nothing else; they write nothing. MSC admins grant and take away the role; a change "
    "takes effect on the representative's next request.",
)


@blp.route("")
class Representatives(MethodView):
    @authenticated()
    @require_msc_admin
    @blp.response(200, RepresentativeSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self) -> Rows:
        """Every MSC representative, by name, with the organizations they represent
        (paginated)."""
        return representatives.list_representatives()


@blp.route("/<uuid:user_id>")
class RepresentativeById(MethodView):
    @authenticated()
    @require_msc_admin
    @blp.response(200, RepresentativeSchema)
    def put(self, user_id: uuid.UUID) -> dict[str, Any]:
        """Make an existing user an MSC representative (idempotent). They reach an
        organization once it names them (`msc_representative_id`); a user without a
        password sets one by resetting it."""
        user = account_or_404(user_id)
        representatives.grant(db.session, user)
        found = representatives.representative(db.session, user.id)
        assert found is not None, "a representative just made is in sight"
        return found

    @authenticated()
    @require_msc_admin
    @blp.response(204)
    def delete(self, user_id: uuid.UUID) -> None:
        """Take the role away (idempotent): the organizations naming the user stop naming
        them, and their requests as a representative stop with the next one."""
        representatives.revoke(db.session, account_or_404(user_id))
