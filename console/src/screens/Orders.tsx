import "./Orders.css";

import { type FormEvent, type ReactNode, useEffect, useState } from "react";

import { call } from "../api";
import { Pending } from "../Pending";
import { ProblemMessage } from "../ProblemMessage";
import { Link, useRoute } from "../router";
import type { ScreenProps } from "../screens";
import type { Me } from "../types";
import { useGet } from "../useGet";
import { label, moment } from "../words";
import { type Facility, may, SEE_FACILITIES, SEE_PROVIDERS } from "./FacilityTypes";
import { type Assignment, movesFor, ORDER_STATUSES, type Order, type Provider, stamps } from "./OrderTypes";

const PAGE_SIZE = 25;
// As many as the API gives in one page: the names of an organization's facilities and
// providers, to read an order's ids by.
const NAMES_PAGE_SIZE = 100;

export interface Names {
  facilities: Map<string, string>;
  providers: Map<string, string>;
}

/** The names of the facilities and providers the user may see, by id: from the
 * organization's lists for staff, from their own assignments for a provider. */
export function useNames(me: Me, organizationId: string): Names {
  const [names, setNames] = useState<Names>({ facilities: new Map(), providers: new Map([[me.id, me.name]]) });
  useEffect(() => {
    let current = true;
    const organization = encodeURIComponent(organizationId);
    const facilities: Promise<[string, string][]> = may(me, SEE_FACILITIES)
      ? call<Facility[]>("GET", `/api/v1/admin/facilities?organization_id=${organization}&page_size=${NAMES_PAGE_SIZE}`).then((rows) =>
          rows.map((f) => [f.id, f.name]),
        )
      : call<Assignment[]>("GET", `/api/v1/me/facilities?page_size=${NAMES_PAGE_SIZE}`).then((rows) =>
          rows.map((a) => [a.facility_id, a.facility_name]),
        );
    const providers: Promise<[string, string][]> = may(me, SEE_PROVIDERS)
      ? call<Provider[]>("GET", `/api/v1/admin/providers?organization_id=${organization}&page_size=${NAMES_PAGE_SIZE}`).then((rows) =>
          rows.map((p) => [p.id, p.name]),
        )
      : Promise.resolve([]);
    // Names only help reading: without them an order shows its ids, and the list its refusal.
    const settled = (found: PromiseSettledResult<[string, string][]>): [string, string][] =>
      found.status === "fulfilled" ? found.value : [];
    void Promise.allSettled([facilities, providers]).then(([f, p]) => {
      if (current) setNames({ facilities: new Map(settled(f)), providers: new Map([[me.id, me.name], ...settled(p)]) });
    });
    return () => {
      current = false;
    };
  }, [me, organizationId]);
  return names;
}

function amount(order: Order): string {
  return `$${order.amount}`;
}

/** The handles of an order for a person: its date, where and by whom. */
function nameOf(order: Order, names: Names): string {
  return `the order of ${moment(order.created_at)} at ${names.facilities.get(order.facility_id) ?? "a facility"}`;
}

const VERBS: Readonly<Record<string, string>> = {
  submitted: "Submit",
  approved: "Approve",
  shipped: "Mark shipped",
  delivered: "Mark delivered",
  cancelled: "Cancel",
};

/** The status changes the user may make to the order, each a button; the API's refusal
 * (an order moved on meanwhile, say) is shown in its words. */
function Moves({ order, me, names, onMoved }: { order: Order; me: Me; names: Names; onMoved: (order: Order) => void }) {
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<unknown>(null);
  const moves = movesFor(order, me);
  if (moves.length === 0) return null;

  async function move(status: string): Promise<void> {
    setBusy(true);
    setProblem(null);
    try {
      onMoved(await call<Order>("POST", `/api/v1/orders/${encodeURIComponent(order.id)}/status`, { body: { status } }));
    } catch (error) {
      setProblem(error);
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="moves">
      {moves.map((status) => (
        <button
          key={status}
          type="button"
          className={status === "cancelled" ? "secondary" : undefined}
          disabled={busy}
          onClick={() => void move(status)}
        >
          {VERBS[status] ?? label(status)}
          <span className="unseen"> {nameOf(order, names)}</span>
        </button>
      ))}
      {problem !== null && <ProblemMessage error={problem} />}
    </div>
  );
}

/** A table in a frame that scrolls it sideways on a narrow screen, which the keyboard
 * reaches too; `caption` names both for screen readers. */
export function Ledger({ caption, className, children }: { caption: string; className?: string; children: ReactNode }) {
  return (
    <div className="ledger-wrap" role="region" aria-label={caption} tabIndex={0}>
      <table className={className ? `ledger ${className}` : "ledger"}>
        <caption className="unseen">{caption}</caption>
        {children}
      </table>
    </div>
  );
}

/** Orders as a table, each linked to its detail, with the status changes the user may make. */
export function OrderTable({
  orders,
  me,
  names,
  onMoved,
  caption,
}: {
  orders: Order[];
  me: Me;
  names: Names;
  onMoved: () => void;
  caption: string;
}) {
  return (
    <Ledger caption={caption} className="orders">
      <thead>
        <tr>
          <th scope="col">Created</th>
          <th scope="col">Facility</th>
          <th scope="col">Provider</th>
          <th scope="col">Status</th>
          <th scope="col" className="number">
            Amount
          </th>
          <th scope="col" className="number">
            Lines
          </th>
          <th scope="col">Actions</th>
        </tr>
      </thead>
      <tbody>
        {orders.map((order) => (
          <tr key={order.id}>
            <th scope="row">
              <Link to={`orders/${order.id}`}>{moment(order.created_at)}</Link>
            </th>
            <td>{names.facilities.get(order.facility_id) ?? order.facility_id}</td>
            <td>{names.providers.get(order.provider_id) ?? order.provider_id}</td>
            <td>
              <span className={`order-status ${order.status}`}>{label(order.status)}</span>
            </td>
            <td className="number">{amount(order)}</td>
            <td className="number">{order.line_count}</td>
            <td>
              <Moves order={order} me={me} names={names} onMoved={onMoved} />
            </td>
          </tr>
        ))}
      </tbody>
    </Ledger>
  );
}

/** Order history, as the API scopes it (all of the organization's for its admins, their
 * facilities' for office managers, their own for providers), and one order's detail. */
export function Orders({ me, organizationId, rest }: ScreenProps) {
  const names = useNames(me, organizationId);
  const [id] = rest;
  return id === undefined ? (
    <OrderList me={me} names={names} />
  ) : (
    <OrderDetail id={id} me={me} names={names} />
  );
}

interface Filters {
  status: string;
  facility_id: string;
}

function OrderList({ me, names }: { me: Me; names: Names }) {
  const { query } = useRoute();
  // A facility's page links here with its id: its orders, with the other filters at hand.
  const [typed, setTyped] = useState<Filters>({ status: "", facility_id: query.get("facility_id") ?? "" });
  const [filters, setFilters] = useState<Filters>(typed);
  const [page, setPage] = useState(1);
  const params = new URLSearchParams({ page: String(page), page_size: String(PAGE_SIZE) });
  if (filters.status) params.set("status", filters.status);
  if (filters.facility_id) params.set("facility_id", filters.facility_id);
  const [loaded, reload] = useGet<Order[]>(`/api/v1/orders?${params.toString()}`);
  const facilities = [...names.facilities].sort((a, b) => a[1].localeCompare(b[1]));

  function submit(event: FormEvent): void {
    event.preventDefault();
    setPage(1);
    setFilters(typed);
  }

  return (
    <>
      <h1>Orders</h1>
      <p className="muted">{scopeOf(me)}</p>
      <form className="search" role="search" aria-label="Filter orders" onSubmit={submit}>
        <label htmlFor="order-status">Status</label>
        <select id="order-status" value={typed.status} onChange={(event) => setTyped({ ...typed, status: event.target.value })}>
          <option value="">Any</option>
          {ORDER_STATUSES.map((status) => (
            <option key={status} value={status}>
              {label(status)}
            </option>
          ))}
        </select>
        <label htmlFor="order-facility">Facility</label>
        <select
          id="order-facility"
          value={typed.facility_id}
          onChange={(event) => setTyped({ ...typed, facility_id: event.target.value })}
        >
          <option value="">Any</option>
          {typed.facility_id && !names.facilities.has(typed.facility_id) && (
            <option value={typed.facility_id}>This facility</option>
          )}
          {facilities.map(([facilityId, name]) => (
            <option key={facilityId} value={facilityId}>
              {name}
            </option>
          ))}
        </select>
        <button type="submit">Filter</button>
      </form>
      <Pending loaded={loaded} onRetry={reload}>Loading orders…</Pending>
      {loaded.state === "shown" &&
        (loaded.data.length === 0 ? (
          <p className="empty">
            {page > 1 ? "No more orders." : filters.status || filters.facility_id ? "No order matches these filters." : "No orders yet."}
          </p>
        ) : (
          <OrderTable orders={loaded.data} me={me} names={names} onMoved={reload} caption={`Orders, page ${page}`} />
        ))}
      {(page > 1 || (loaded.state === "shown" && loaded.data.length === PAGE_SIZE)) && (
        <nav className="order-pages" aria-label="Pages of orders">
          {page > 1 && (
            <button type="button" className="secondary" onClick={() => setPage(page - 1)}>
              Newer orders
            </button>
          )}
          <span className="muted">Page {page}</span>
          {loaded.state === "shown" && loaded.data.length === PAGE_SIZE && (
            <button type="button" className="secondary" onClick={() => setPage(page + 1)}>
              Older orders
            </button>
          )}
        </nav>
      )}
    </>
  );
}

function scopeOf(me: Me): string {
  if (me.is_msc_admin || me.permissions.includes("view-all-orders")) return "All of the organization's orders, newest first.";
  if (me.permissions.includes("view-facility-orders")) return "The orders of the facilities you manage, newest first.";
  return "Your own orders, newest first.";
}

function OrderDetail({ id, me, names }: { id: string; me: Me; names: Names }) {
  const [loaded, reload] = useGet<Order>(`/api/v1/orders/${encodeURIComponent(id)}`);
  const [moved, setMoved] = useState<Order | null>(null);
  const order = moved ?? (loaded.state === "shown" ? loaded.data : null);
  const facilityName = order && names.facilities.get(order.facility_id);
  return (
    <>
      <p className="back">
        <Link to="orders">All orders</Link>
      </p>
      <h1>Order</h1>
      <Pending loaded={loaded} onRetry={reload}>Loading the order…</Pending>
      {order !== null && (
        <>
          <dl className="particulars">
            <div>
              <dt>Status</dt>
              <dd>
                <span className={`order-status ${order.status}`}>{label(order.status)}</span>
              </dd>
            </div>
            <div>
              <dt>Facility</dt>
              <dd>
                {facilityName && may(me, SEE_FACILITIES) ? (
                  <Link to={`facilities/${order.facility_id}`}>{facilityName}</Link>
                ) : (
                  (facilityName ?? order.facility_id)
                )}
              </dd>
            </div>
            <div>
              <dt>Provider</dt>
              <dd>{names.providers.get(order.provider_id) ?? order.provider_id}</dd>
            </div>
            <div>
              <dt>Amount</dt>
              <dd>{amount(order)}</dd>
            </div>
            <div>
              <dt>Lines</dt>
              <dd>{order.line_count}</dd>
            </div>
          </dl>
          <h2>History</h2>
          <ol className="order-history">
            {stamps(order).map(([status, at]) => (
              <li key={status}>
                <span className="step-name">{label(status)}</span> <time dateTime={at}>{moment(at)}</time>
              </li>
            ))}
          </ol>
          {movesFor(order, me).length > 0 && (
            <>
              <h2>Move it on</h2>
              <Moves order={order} me={me} names={names} onMoved={setMoved} />
            </>
          )}
        </>
      )}
    </>
  );
}
