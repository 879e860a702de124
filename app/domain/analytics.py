"""Organization analytics over a date range, by day, week or month, aggregated in SQL.

- order volume: orders created in each period, and their amount (revenue: orders not
  cancelled);
- provider activity rate: providers with an order in the period / active providers;
- facility utilization: orders per facility over the range, and each one's share;
- compliance score trend: the organization's score as of each period's last day, from
  the credentials' expiry dates (verifications are taken as they stand today: their
  history is in the audit trail, not replayed here);
- growth: each period's orders and revenue against the previous period's, in percent.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import (
    ColumnElement,
    Date,
    DateTime,
    Label,
    Numeric,
    and_,
    cast,
    func,
    literal,
    select,
)
from sqlalchemy.orm import Session

from app.domain import compliance, queries
from app.models import Facility, Organization, ProviderFacility
from app.models.order import Order, OrderStatus

INTERVALS = ("day", "week", "month")


@dataclass(frozen=True)
class Period:
    start: dt.date
    orders: int
    revenue: Decimal
    ordering_providers: int
    active_providers: int
    provider_activity_rate: float | None
    compliance_score: int | None
    order_growth: float | None
    revenue_growth: float | None


@dataclass(frozen=True)
class FacilityUse:
    facility_id: uuid.UUID
    name: str
    orders: int
    share: float


@dataclass(frozen=True)
class Analytics:
    organization_ids: list[uuid.UUID]
    start: dt.date
    end: dt.date
    interval: str
    periods: list[Period]
    facilities: list[FacilityUse]
    total_orders: int
    total_revenue: Decimal


def _growth(current: Decimal | int, previous: Decimal | int | None) -> float | None:
    if previous is None or previous == 0:
        return None
    return round(float((Decimal(current) - Decimal(previous)) / Decimal(previous) * 100), 2)


def _created_between(start: dt.date, end: dt.date) -> ColumnElement[bool]:
    """Created on a day from `start` through `end` (`created_at::date`), said as a range of
    instants: the days' midnights in the session's time zone, the one `::date` reads in.
    Instants compare with an operator the policies let the (organization_id, created_at)
    index bound the scan with; a timestamp against a date does not."""

    def midnight(day: dt.date) -> ColumnElement[dt.datetime]:
        return cast(literal(day, Date), DateTime(timezone=True))

    return and_(
        Order.created_at >= midnight(start),
        Order.created_at < midnight(end + dt.timedelta(days=1)),
    )


def _order_totals() -> tuple[Label[int], Label[Decimal], Label[int]]:
    """Orders, revenue (orders not cancelled) and ordering providers, per group."""
    return (
        func.count().label("orders"),
        func.coalesce(
            func.sum(Order.amount).filter(Order.status != OrderStatus.CANCELLED),
            cast(literal(0), Numeric),
        ).label("revenue"),
        func.count(func.distinct(Order.provider_id)).label("ordering_providers"),
    )


def period_starts(start: dt.date, end: dt.date, interval: str) -> list[dt.date]:
    """The first day of every period touching [start, end] (weeks start on Monday)."""
    if interval == "day":
        first = start
    elif interval == "week":
        first = start - dt.timedelta(days=start.weekday())
    else:
        first = start.replace(day=1)
    starts = []
    current = first
    while current <= end:
        starts.append(current)
        if interval == "day":
            current += dt.timedelta(days=1)
        elif interval == "week":
            current += dt.timedelta(days=7)
        else:
            current = (current.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return starts


def analytics(
    session: Session,
    organization_ids: list[uuid.UUID],
    start: dt.date,
    end: dt.date,
    interval: str,
    today: dt.date,
) -> Analytics:
    """Five queries for any range and any organization size. Active providers: those with
    an assignment in force today (`queries.active_on`)."""
    period = cast(func.date_trunc(interval, Order.created_at), Date).label("period")
    in_range = _created_between(start, end)
    by_period = {
        row.period: row
        for row in session.execute(
            select(period, *_order_totals())
            .where(Order.organization_id.in_(organization_ids), in_range)
            .group_by(period)
        )
    }
    active_providers = int(
        session.scalar(
            select(func.count(func.distinct(ProviderFacility.user_id))).where(
                queries.active_assignments_in(organization_ids, today)
            )
        )
        or 0
    )
    # Counted where the range's orders are found (by organization and date), then matched
    # to the facilities, every one of them listed.
    counts = (
        select(Order.facility_id, func.count().label("orders"))
        .where(Order.organization_id.in_(organization_ids), in_range)
        .group_by(Order.facility_id)
        .subquery()
    )
    orders_at = func.coalesce(counts.c.orders, 0)
    per_facility = session.execute(
        select(Facility.id, Facility.name, orders_at)
        .outerjoin(counts, counts.c.facility_id == Facility.id)
        .where(Facility.organization_id.in_(organization_ids))
        .order_by(orders_at.desc(), Facility.name, Facility.id)
    ).all()
    starts = period_starts(start, end, interval)
    last_days = [
        min(end, starts[index + 1] - dt.timedelta(days=1) if index + 1 < len(starts) else end)
        for index in range(len(starts))
    ]
    # Credentials as of each period's last day; training as it stands at the range's end.
    providers = queries.provider_ids(session, organization_ids)
    score_on = {
        day: compliance.mean_score(int(total), int(count))
        for day, total, count in session.execute(compliance.score_sums(providers, last_days, end))
    }

    periods: list[Period] = []
    previous: Period | None = None
    for first_day, last_day in zip(starts, last_days, strict=True):
        row = by_period.get(first_day)
        orders = int(row.orders) if row else 0
        revenue = Decimal(row.revenue) if row else Decimal("0")
        ordering = int(row.ordering_providers) if row else 0
        current = Period(
            first_day,
            orders,
            revenue,
            ordering,
            active_providers,
            round(ordering / active_providers, 4) if active_providers else None,
            score_on.get(last_day),
            _growth(orders, previous.orders if previous else None),
            _growth(revenue, previous.revenue if previous else None),
        )
        periods.append(current)
        previous = current
    total_orders = sum(p.orders for p in periods)
    facilities = [
        FacilityUse(
            facility_id,
            name,
            int(count),
            round(int(count) / total_orders, 4) if total_orders else 0.0,
        )
        for facility_id, name, count in per_facility
    ]
    return Analytics(
        organization_ids,
        start,
        end,
        interval,
        periods,
        facilities,
        total_orders,
        sum((p.revenue for p in periods), Decimal("0")),
    )


@dataclass(frozen=True)
class OrganizationTotals:
    organization_id: uuid.UUID
    name: str
    orders: int
    revenue: Decimal
    ordering_providers: int
    active_providers: int
    provider_activity_rate: float | None


def breakdown(
    session: Session, start: dt.date, end: dt.date, today: dt.date
) -> list[OrganizationTotals]:
    """Every organization the caller sees (MSC: all), with its totals: two queries."""
    orders = {
        row.organization_id: row
        for row in session.execute(
            select(Order.organization_id, *_order_totals())
            .where(_created_between(start, end))
            .group_by(Order.organization_id)
        )
    }
    rows = session.execute(
        select(
            Organization.id,
            Organization.name,
            func.count(func.distinct(ProviderFacility.user_id)).label("active_providers"),
        )
        # Active as `queries.active_assignments_in` means it, counted per organization.
        .outerjoin(
            ProviderFacility,
            (ProviderFacility.organization_id == Organization.id) & queries.active_on(today),
        )
        .group_by(Organization.id, Organization.name)
        .order_by(Organization.name, Organization.id)
    ).all()
    result = []
    for organization_id, name, active in rows:
        row = orders.get(organization_id)
        ordering = int(row.ordering_providers) if row else 0
        result.append(
            OrganizationTotals(
                organization_id,
                name,
                int(row.orders) if row else 0,
                Decimal(row.revenue) if row else Decimal("0"),
                ordering,
                int(active),
                round(ordering / int(active), 4) if active else None,
            )
        )
    return result
