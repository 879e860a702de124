"""Reference data the API's fields take, with the names people read: clients (the
console) show and offer these rather than keeping a copy of their own."""

from __future__ import annotations

from flask.views import MethodView

from app.domain.reference import PLACE_OF_SERVICE
from app.permissions import authenticated
from app.request_body import Blueprint
from app.schemas.reference import PlaceOfServiceSchema

blp = Blueprint(
    "reference",
    __name__,
    url_prefix="/api/v1/reference",
    description="Reference data: the codes fields take, with their names.",
)


@blp.route("/places-of-service")
class PlacesOfService(MethodView):
    @authenticated()
    @blp.response(200, PlaceOfServiceSchema(many=True))
    def get(self) -> list[dict[str, str]]:
        """The CMS place-of-service codes a facility's `place_of_service` takes, each
        with its CMS name, by code."""
        return [{"code": code, "name": name} for code, name in sorted(PLACE_OF_SERVICE.items())]
