"""Organization analytics over a date range, by day, week or month, aggregated in SQL.

Orders count when they are business (submitted, approved, shipped or delivered; neither
draft nor cancelled), on the day they were submitted (a draft has no such day). A period
is its days within the range: a week starting before `from` counts from `from`, the last
period ends at `to`.

- order volume: business orders in each period, and their amount (revenue);
- provider activity rate: ordering providers (those with a business order in the
  period) / active providers (those with an assignment in the organizations that was
  active on at least one day of the period: from its start date up to the day before
  its end date; a pending one on no day);
- facility utilization: business orders per facility over the range, and each one's share;
- compliance score trend: the organization's score as it stood at the end of each
  period's last day, replayed: its provider members by then, their credentials added by
  then with their verification outcome then, training certificates on file and valid
  then, and the states of the assignments in force then (none before any provider);
- growth: each period's orders and revenue against the previous period's, in percent.
"""

from __future__ import annotations

import datetime as dt
import uuid
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from itertools import accumulate

from sqlalchemy import (
    ColumnElement,
    Date,
    DateTime,
    Label,
    Numeric,
    Select,
    and_,
    cast,
    func,
    literal,
    select,
)
from sqlalchemy.orm import Session

from app.domain import compliance, queries
from app.models import Facility, Organization, ProviderFacility
from app.models.order import BUSINESS_ORDER_STATUSES, Order

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


def _business_between(start: dt.date, end: dt.date) -> ColumnElement[bool]:
    """Business orders submitted on a day from `start` through `end` (`submitted_at::date`),
    the days said as a range of instants: their midnights in the session's time zone, the
    one `::date` reads in. Instants compare with an operator the policies let the
    (organization_id, submitted_at) index bound the scan with; a timestamp against a date
    does not."""

    def midnight(day: dt.date) -> ColumnElement[dt.datetime]:
        return cast(literal(day, Date), DateTime(timezone=True))

    return and_(
        Order.status.in_(BUSINESS_ORDER_STATUSES),
        Order.submitted_at >= midnight(start),
        Order.submitted_at < midnight(end + dt.timedelta(days=1)),
    )


def _order_totals() -> tuple[Label[int], Label[Decimal], Label[int]]:
    """Orders, revenue and ordering providers, per group of business orders."""
    return (
        func.count().label("orders"),
        func.coalesce(func.sum(Order.amount), cast(literal(0), Numeric)).label("revenue"),
        func.count(func.distinct(Order.provider_id)).label("ordering_providers"),
    )


def _assignment_spans(
    organization_ids: list[uuid.UUID], start: dt.date, end: dt.date
) -> Select[uuid.UUID, dt.date, dt.date | None]:
    """(provider, start date, end date) of each assignment in the organizations active on
    a day of the range at least."""
    return select(
        ProviderFacility.user_id, ProviderFacility.start_date, ProviderFacility.end_date
    ).where(
        ProviderFacility.organization_id.in_(organization_ids),
        queries.active_between(start, end),
    )


def active_per_period(
    spans: Iterable[tuple[uuid.UUID, dt.date, dt.date | None]],
    first_days: list[dt.date],
    end: dt.date,
) -> list[int]:
    """The providers active on a day of each period at least, counted once however many
    assignments they hold. `first_days` are the periods' first days within the range (in
    order; the last period ends on `end`); `spans` (provider, start date, end date) are
    assignments active on a day of the range, active on day d when start <= d < end (or
    no end date, as `queries.active_between` reads them).

    Said as the periods each provider was active in, merged where a provider's
    assignments overlap, then counted: work that grows with the assignments and the
    periods, where a join of the two grows with their product (a daily report over years
    for a health system)."""
    by_provider: dict[uuid.UUID, list[tuple[int, int]]] = defaultdict(list)
    for provider, start_date, end_date in spans:
        first_day = max(start_date, first_days[0])
        last_day = min(end_date - dt.timedelta(days=1), end) if end_date else end
        by_provider[provider].append(
            (bisect_right(first_days, first_day) - 1, bisect_right(first_days, last_day) - 1)
        )
    # +1 where a provider's run of periods starts, -1 after it ends
    changes = [0] * (len(first_days) + 1)
    for runs in by_provider.values():
        runs.sort()
        first, last = runs[0]
        for next_first, next_last in runs[1:]:
            if next_first > last:
                changes[first] += 1
                changes[last + 1] -= 1
                first, last = next_first, next_last
            else:
                last = max(last, next_last)
        changes[first] += 1
        changes[last + 1] -= 1
    return list(accumulate(changes[:-1]))


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
) -> Analytics:
    """Five queries for any range and any organization size."""
    period = cast(func.date_trunc(interval, Order.submitted_at), Date).label("period")
    in_range = _business_between(start, end)
    by_period = {
        row.period: row
        for row in session.execute(
            select(period, *_order_totals())
            .where(Order.organization_id.in_(organization_ids), in_range)
            .group_by(period)
        )
    }
    starts = period_starts(start, end, interval)
    # Each period's days within the range, from its first through its last.
    first_days = [max(start, day) for day in starts]
    last_days = [
        min(end, starts[index + 1] - dt.timedelta(days=1) if index + 1 < len(starts) else end)
        for index in range(len(starts))
    ]
    active_providers = active_per_period(
        session.execute(_assignment_spans(organization_ids, start, end)),
        first_days,
        end,
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
    # The organizations' score as it stood at the end of each period's last day: their
    # provider members then, with their credentials, outcomes, training and assignments
    # then (compliance.load_facts).
    score_on = {
        day: compliance.mean_score(total, count)
        for day, (total, count) in compliance.score_sums(
            session, organization_ids, last_days
        ).items()
    }

    periods: list[Period] = []
    previous: Period | None = None
    for period_start, last_day, active in zip(starts, last_days, active_providers, strict=True):
        row = by_period.get(period_start)
        orders = int(row.orders) if row else 0
        revenue = Decimal(row.revenue) if row else Decimal("0")
        ordering = int(row.ordering_providers) if row else 0
        current = Period(
            period_start,
            orders,
            revenue,
            ordering,
            active,
            round(ordering / active, 4) if active else None,
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


def breakdown(session: Session, start: dt.date, end: dt.date) -> list[OrganizationTotals]:
    """Every organization the caller sees (MSC: all), with its totals over the range as
    one period: two queries."""
    orders = {
        row.organization_id: row
        for row in session.execute(
            select(Order.organization_id, *_order_totals())
            .where(_business_between(start, end))
            .group_by(Order.organization_id)
        )
    }
    rows = session.execute(
        select(
            Organization.id,
            Organization.name,
            func.count(func.distinct(ProviderFacility.user_id)).label("active_providers"),
        )
        .outerjoin(
            ProviderFacility,
            (ProviderFacility.organization_id == Organization.id)
            & queries.active_between(start, end),
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
