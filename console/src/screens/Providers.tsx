import { type FormEvent, useState } from "react";

import { Pending } from "../Pending";
import { Link } from "../router";
import type { ScreenProps } from "../screens";
import { useGet } from "../useGet";
import { label } from "../words";
import { ProviderPage } from "./ProviderPage";
import type { Facility, Provider } from "./ProviderTypes";
import "./Providers.css";

// As many as the API gives in one page; a search narrows a longer list.
export const PAGE_SIZE = 100;
const STATUSES = ["active", "pending", "inactive"];

interface Search {
  search: string;
  status: string;
}

function query(organizationId: string, search: Search): string {
  const params = new URLSearchParams({ organization_id: organizationId, page_size: String(PAGE_SIZE) });
  if (search.search.trim()) params.set("search", search.search.trim());
  if (search.status) params.set("status", search.status);
  return params.toString();
}

/** The organization's providers (GET /api/v1/admin/providers), and one provider's page
 * at providers/<id>. */
export function Providers(props: ScreenProps) {
  const [id] = props.rest;
  return id === undefined ? <ProviderList {...props} /> : <ProviderPage {...props} providerId={id} />;
}

function ProviderList({ organizationId, organizationName }: ScreenProps) {
  const [typed, setTyped] = useState<Search>({ search: "", status: "" });
  const [search, setSearch] = useState<Search>(typed);
  const [loaded, reload] = useGet<Provider[]>(`/api/v1/admin/providers?${query(organizationId, search)}`);
  const [facilities] = useGet<Facility[]>(
    `/api/v1/admin/facilities?organization_id=${encodeURIComponent(organizationId)}&page_size=${PAGE_SIZE}`,
  );
  const facilityName = (id: string | null): string => {
    if (id === null) return "—";
    const found = facilities.state === "shown" ? facilities.data.find((f) => f.id === id) : undefined;
    return found?.name ?? "—";
  };

  function submit(event: FormEvent): void {
    event.preventDefault();
    setSearch(typed);
  }

  return (
    <>
      <h1>Providers of {organizationName}</h1>
      <form className="search" role="search" onSubmit={submit}>
        <label htmlFor="provider-search">Name or NPI</label>
        <input
          id="provider-search"
          type="search"
          value={typed.search}
          onChange={(event) => setTyped({ ...typed, search: event.target.value })}
        />
        <label htmlFor="provider-status">Status</label>
        <select id="provider-status" value={typed.status} onChange={(event) => setTyped({ ...typed, status: event.target.value })}>
          <option value="">Any</option>
          {STATUSES.map((status) => (
            <option key={status} value={status}>
              {label(status)}
            </option>
          ))}
        </select>
        <button type="submit">Search</button>
      </form>
      <Pending loaded={loaded} onRetry={reload}>Loading providers…</Pending>
      {loaded.state === "shown" &&
        (loaded.data.length === 0 ? (
          <p className="empty">
            {search.search || search.status
              ? "No provider matches this search."
              : "No providers yet. Invite providers from the invitations screen."}
          </p>
        ) : (
          <>
            <div className="table-scroll">
              <table className="records providers">
                <thead>
                  <tr>
                    <th scope="col">Name</th>
                    <th scope="col">Email</th>
                    <th scope="col">NPI</th>
                    <th scope="col">Status</th>
                    <th scope="col">Primary facility</th>
                  </tr>
                </thead>
                <tbody>
                  {loaded.data.map((provider) => (
                    <tr key={`${provider.id}-${provider.organization_id}`}>
                      <th scope="row">
                        <Link to={`providers/${provider.id}`}>{provider.name}</Link>
                      </th>
                      <td>{provider.email}</td>
                      <td>{provider.npi ?? "—"}</td>
                      <td>{label(provider.status)}</td>
                      <td>{facilityName(provider.primary_facility_id)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            {loaded.data.length === PAGE_SIZE && (
              <p className="muted">Showing the first {PAGE_SIZE}: narrow the search to find others.</p>
            )}
          </>
        ))}
    </>
  );
}
