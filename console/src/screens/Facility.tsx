import { type ReactNode, useState } from "react";

import { call } from "../api";
import { ProblemMessage } from "../ProblemMessage";
import { Link } from "../router";
import type { ScreenProps } from "../screens";
import type { Me } from "../types";
import { type Loaded, useGet } from "../useGet";
import { label, score } from "../words";
import { editableBy, FacilityForm, useManagers } from "./FacilityForm";
import {
  addressOf,
  type Expiration,
  type Facility,
  type FacilityProvider,
  facilityType,
  HANDLE_ORDERS,
  itemName,
  type Member,
  may,
  type OrganizationCompliance,
  placeOfService,
  usePlacesOfService,
  RUN_FACILITIES,
  SEE_COMPLIANCE,
} from "./FacilityTypes";
import { Ledger, OrderTable, useNames } from "./Orders";
import type { Order } from "./OrderTypes";

// As many as the API gives in one page.
const ROSTER_PAGE_SIZE = 100;
const RECENT_ORDERS = 10;
// The horizon of the expirations shown: the API's default, the spec's 90 days.
const EXPIRING_WITHIN_DAYS = 90;

type Props = ScreenProps & { id: string };

/** One facility: its details (editable by those who run facilities), its provider roster,
 * its compliance tracker and its order history. */
export function FacilityPage({ id, me, organizationId }: Props) {
  const path = `/api/v1/admin/facilities/${encodeURIComponent(id)}`;
  const [loaded, reload] = useGet<Facility>(path);
  const [saved, setSaved] = useState<Facility | null>(null);
  const facility = saved ?? (loaded.state === "shown" ? loaded.data : null);

  return (
    <>
      <p className="back">
        <Link to="facilities">All facilities</Link>
      </p>
      {loaded.state === "loading" && (
        <p role="status" className="muted">
          Loading the facility…
        </p>
      )}
      {loaded.state === "failed" && (
        <>
          <h1>Facility</h1>
          <ProblemMessage error={loaded.error} onRetry={reload} />
        </>
      )}
      {facility !== null && (
        <>
          <h1>{facility.name}</h1>
          <p className={facility.active ? "status active" : "status inactive"}>{facility.active ? "Active" : "Inactive"}</p>
          <Details facility={facility} me={me} organizationId={organizationId} onSaved={setSaved} />
          <Roster id={facility.id} />
          {may(me, SEE_COMPLIANCE) && <Compliance facility={facility} />}
          {may(me, HANDLE_ORDERS) && <FacilityOrders facility={facility} me={me} organizationId={organizationId} />}
        </>
      )}
    </>
  );
}

function Details({
  facility,
  me,
  organizationId,
  onSaved,
}: {
  facility: Facility;
  me: Me;
  organizationId: string;
  onSaved: (facility: Facility) => void;
}) {
  const [editing, setEditing] = useState(false);
  const [notice, setNotice] = useState("");
  const managers = useManagers(me, organizationId);
  const places = usePlacesOfService();
  const editable = may(me, RUN_FACILITIES);

  async function save(body: Record<string, unknown>): Promise<void> {
    const changed = await call<Facility>("PUT", `/api/v1/admin/facilities/${encodeURIComponent(facility.id)}`, { body });
    onSaved(changed);
    setEditing(false);
    setNotice("The facility's details are saved.");
  }

  return (
    <section aria-labelledby="facility-details">
      <h2 id="facility-details">Details</h2>
      {notice && (
        <p className="notice" role="status">
          {notice}
        </p>
      )}
      {editing ? (
        <FacilityForm facility={facility} editable={editableBy(me)} managers={managers} submitLabel="Save" save={save}>
          <button type="button" className="secondary" onClick={() => setEditing(false)}>
            Cancel
          </button>
        </FacilityForm>
      ) : (
        <>
          <dl className="particulars">
            {particulars(facility, me, managers, places).map(([name, value]) => (
              <div key={name}>
                <dt>{name}</dt>
                <dd>{value || "—"}</dd>
              </div>
            ))}
          </dl>
          {editable && (
            <button
              type="button"
              onClick={() => {
                setNotice("");
                setEditing(true);
              }}
            >
              Edit details
            </button>
          )}
        </>
      )}
    </section>
  );
}

function particulars(
  facility: Facility,
  me: Me,
  managers: Member[] | null,
  places: Readonly<Record<string, string>>,
): [string, string][] {
  const manager = facility.office_manager_id;
  const managerName =
    manager === null
      ? ""
      : manager === me.id
        ? `${me.name} (you)`
        : (managers?.find((m) => m.user_id === manager)?.name ?? "Assigned");
  return [
    ["Type", facilityType(facility.facility_type)],
    ["Place of service", placeOfService(facility.place_of_service, places)],
    ["Address", addressOf(facility)],
    ["Phone", facility.phone ?? ""],
    ["Email", facility.email ?? ""],
    ["NPI", facility.npi ?? ""],
    ["PTAN", facility.ptan ?? ""],
    ["MAC jurisdiction", facility.mac_jurisdiction ?? ""],
    ["Office manager", managerName],
  ];
}

function Roster({ id }: { id: string }) {
  const [loaded, reload] = useGet<FacilityProvider[]>(
    `/api/v1/admin/facilities/${encodeURIComponent(id)}/providers?page_size=${ROSTER_PAGE_SIZE}`,
  );
  return (
    <section aria-labelledby="facility-roster">
      <h2 id="facility-roster">Provider roster</h2>
      <Shown loaded={loaded} reload={reload} what="the roster">
        {(providers) =>
          providers.length === 0 ? (
            <p className="empty">No provider is assigned to this facility.</p>
          ) : (
            <Ledger caption="Providers assigned to the facility" className="roster">
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">NPI</th>
                  <th scope="col">Email</th>
                  <th scope="col">Assignment</th>
                  <th scope="col">Primary</th>
                  <th scope="col">Since</th>
                  <th scope="col">Until</th>
                </tr>
              </thead>
              <tbody>
                {providers.map((provider) => (
                  <tr key={provider.assignment_id}>
                    <th scope="row">{provider.name}</th>
                    <td>{provider.npi ?? "—"}</td>
                    <td>{provider.email}</td>
                    <td>{label(provider.status)}</td>
                    <td>{provider.is_primary ? "Primary" : "—"}</td>
                    <td>{provider.start_date}</td>
                    <td>{provider.end_date ?? "—"}</td>
                  </tr>
                ))}
              </tbody>
            </Ledger>
          )
        }
      </Shown>
    </section>
  );
}

function items(codes: string[]): string {
  return codes.length === 0 ? "—" : codes.map(itemName).join(", ");
}

function daysLeft(days: number): string {
  if (days < 0) return `expired ${-days} day${days === -1 ? "" : "s"} ago`;
  if (days === 0) return "expires today";
  return `${days} day${days === 1 ? "" : "s"}`;
}

/** The compliance of the providers working at the facility (assignments in force), and
 * their credentials expiring soon or expired. The expirations come for the whole
 * organization: those of the facility's providers are kept. */
function Compliance({ facility }: { facility: Facility }) {
  const organization = encodeURIComponent(facility.organization_id);
  const [compliance, reloadCompliance] = useGet<OrganizationCompliance>(
    `/api/v1/admin/compliance?organization_id=${organization}&facility_id=${encodeURIComponent(facility.id)}`,
  );
  const [expirations, reloadExpirations] = useGet<Expiration[]>(
    `/api/v1/admin/compliance/expirations?organization_id=${organization}&within_days=${EXPIRING_WITHIN_DAYS}`,
  );
  return (
    <section aria-labelledby="facility-compliance">
      <h2 id="facility-compliance">Compliance</h2>
      <Shown loaded={compliance} reload={reloadCompliance} what="compliance">
        {(found) =>
          found.providers.length === 0 ? (
            <p className="empty">No provider works at this facility yet: there is nothing to score.</p>
          ) : (
            <>
              <Ledger caption="Compliance of the facility's providers, riskiest first" className="compliance">
                <thead>
                  <tr>
                    <th scope="col">Provider</th>
                    <th scope="col" className="number">
                      Score
                    </th>
                    <th scope="col">Missing</th>
                    <th scope="col">Expiring</th>
                    <th scope="col">Expired</th>
                    <th scope="col">Unverified</th>
                  </tr>
                </thead>
                <tbody>
                  {found.providers.map((provider) => (
                    <tr key={provider.user_id}>
                      <th scope="row">
                        {provider.name}
                        {provider.excluded && <span className="facility-excluded"> (excluded)</span>}
                      </th>
                      <td className="number">{score(provider.score)}</td>
                      <td>{items(provider.missing)}</td>
                      <td>{items(provider.expiring)}</td>
                      <td>{items(provider.expired)}</td>
                      <td>{items(provider.unverified)}</td>
                    </tr>
                  ))}
                </tbody>
              </Ledger>
              <h3 className="facility-subheading">Expiring within {EXPIRING_WITHIN_DAYS} days or expired</h3>
              <Shown loaded={expirations} reload={reloadExpirations} what="the expirations">
                {(all) => {
                  const here = new Set(found.providers.map((p) => p.user_id));
                  const kept = all.filter((expiration) => here.has(expiration.owner_id));
                  return kept.length === 0 ? (
                    <p className="empty">No credential of this facility's providers expires within {EXPIRING_WITHIN_DAYS} days.</p>
                  ) : (
                    <Ledger caption="Credentials expiring, soonest first" className="expirations">
                      <thead>
                        <tr>
                          <th scope="col">Provider</th>
                          <th scope="col">Credential</th>
                          <th scope="col">Expiry date</th>
                          <th scope="col">Days left</th>
                        </tr>
                      </thead>
                      <tbody>
                        {kept.map((expiration) => (
                          <tr key={expiration.record_id}>
                            <th scope="row">{expiration.owner_name}</th>
                            <td>{itemName(expiration.kind)}</td>
                            <td>{expiration.expiry_date}</td>
                            <td className={expiration.days_left < 0 ? "facility-expired" : undefined}>{daysLeft(expiration.days_left)}</td>
                          </tr>
                        ))}
                      </tbody>
                    </Ledger>
                  );
                }}
              </Shown>
            </>
          )
        }
      </Shown>
    </section>
  );
}

function FacilityOrders({ facility, me, organizationId }: { facility: Facility; me: Me; organizationId: string }) {
  const names = useNames(me, organizationId);
  const [loaded, reload] = useGet<Order[]>(
    `/api/v1/orders?facility_id=${encodeURIComponent(facility.id)}&page_size=${RECENT_ORDERS}`,
  );
  return (
    <section aria-labelledby="facility-orders">
      <h2 id="facility-orders">Orders</h2>
      <Shown loaded={loaded} reload={reload} what="orders">
        {(orders) =>
          orders.length === 0 ? (
            <p className="empty">No orders from this facility yet.</p>
          ) : (
            <>
              <OrderTable orders={orders} me={me} names={names} onMoved={reload} caption="The facility's latest orders" />
              {orders.length === RECENT_ORDERS && (
                <p>
                  <Link to={`orders?facility_id=${facility.id}`}>All of this facility's orders</Link>
                </p>
              )}
            </>
          )
        }
      </Shown>
    </section>
  );
}

/** A part of the page as it loads: its loading line, its refusal in words, or `children`. */
function Shown<T>({
  loaded,
  reload,
  what,
  children,
}: {
  loaded: Loaded<T>;
  reload: () => void;
  what: string;
  children: (data: T) => ReactNode;
}) {
  if (loaded.state === "loading") {
    return (
      <p role="status" className="muted">
        Loading {what}…
      </p>
    );
  }
  if (loaded.state === "failed") return <ProblemMessage error={loaded.error} onRetry={reload} />;
  return <>{children(loaded.data)}</>;
}
