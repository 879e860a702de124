"""Orders: providers place them at their facilities; staff follow them through."""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView
from sqlalchemy import Select

from app.blueprints.lookups import facility_for_field
from app.domain import orders
from app.domain.errors import NotFound
from app.extensions import db
from app.models.order import Order
from app.pagination import SelectPage
from app.permissions import HANDLE_ORDERS, Permission, authenticated, requires
from app.request_body import Blueprint
from app.schemas.orders import OrderQuerySchema, OrderSchema, OrderStatusSchema, PlaceOrderSchema
from app.tenancy.request import current_context

blp = Blueprint(
    "orders",
    __name__,
    url_prefix="/api/v1/orders",
    description="Supply orders: a provider's own, an office manager's facilities', an "
    "organization's all.",
)


def order_or_404(order_id: uuid.UUID) -> Order:
    # Hidden by the policies or outside the acting organizations: not found alike.
    order = orders.get_order(db.session, current_context(), order_id)
    if order is None:
        raise NotFound("order not found")
    return order


@blp.route("")
class Orders(MethodView):
    @authenticated()
    @requires(*HANDLE_ORDERS)
    @blp.arguments(OrderQuerySchema, location="query")
    @blp.response(200, OrderSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self, filters: dict[str, Any]) -> Select[Order]:
        """List orders, newest first (paginated; filter by status, facility, and creation
        dates `from`/`to`, inclusive). Providers see their own, office managers those of
        the facilities they manage, organization admins all of their organizations."""
        return orders.list_orders(current_context(), filters)

    @authenticated()
    @requires(Permission.PLACE_ORDERS)
    @blp.arguments(PlaceOrderSchema)
    @blp.response(201, OrderSchema)
    @blp.alt_response(
        409,
        description="the caller is excluded in the facility's organization (an exclusion"
        " list match)",
    )
    def post(self, data: dict[str, Any]) -> Order:
        """Place an order at a facility where the caller is actively assigned, as a
        draft or (by default) submitted. A provider excluded in the facility's
        organization places none there."""
        facility = facility_for_field(data["facility_id"])
        return orders.place_order(db.session, current_context(), facility, data)


@blp.route("/<uuid:order_id>")
class OrderById(MethodView):
    @authenticated()
    @requires(*HANDLE_ORDERS)
    @blp.response(200, OrderSchema)
    def get(self, order_id: uuid.UUID) -> Order:
        """One order."""
        return order_or_404(order_id)


@blp.route("/<uuid:order_id>/status")
class OrderStatusChange(MethodView):
    @authenticated()
    @requires(*HANDLE_ORDERS)
    @blp.arguments(OrderStatusSchema)
    @blp.response(200, OrderSchema)
    @blp.alt_response(
        409, description="the order cannot go to this status from its own, or it changed meanwhile"
    )
    def post(self, data: dict[str, Any], order_id: uuid.UUID) -> Order:
        """Move the order on: draft -> submitted | cancelled, submitted -> approved |
        cancelled, approved -> shipped | cancelled, shipped -> delivered. Staff (the
        organization admin, the facility's office manager, MSC) approve, ship, deliver and
        cancel; the provider submits or cancels their own draft or submitted order."""
        order = order_or_404(order_id)
        return orders.change_status(db.session, current_context(), order, data["status"])
