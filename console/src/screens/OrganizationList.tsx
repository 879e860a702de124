import { type FormEvent, useState } from "react";

import { Pending } from "../Pending";
import { Link } from "../router";
import type { ScreenProps } from "../screens";
import type { Organization } from "../types";
import { useGet } from "../useGet";
import { label } from "../words";
import { OrganizationEntered } from "./Organization";
import { OrganizationNew } from "./OrganizationNew";
import "./Organization.css";

/** An organization as the list gives it: with its onboarding progress. */
interface OrganizationInList extends Organization {
  onboarding_percent_complete: number;
}

// As many as the API gives in one page; a search narrows a longer list.
const PAGE_SIZE = 100;
export const STATUSES = ["pending", "active", "suspended", "inactive"];

interface Search {
  name: string;
  status: string;
}

function query(search: Search): string {
  const params = new URLSearchParams({ page_size: String(PAGE_SIZE) });
  if (search.name.trim()) params.set("name", search.name.trim());
  if (search.status) params.set("status", search.status);
  return params.toString();
}

/** MSC admins: the organizations across tenants (/console/organizations), a new one
 * (/console/organizations/new) and one of them entered (/console/organizations/<id>). */
export function OrganizationList({ rest }: ScreenProps) {
  const [id] = rest;
  if (id === undefined) return <Organizations />;
  if (id === "new") return <OrganizationNew />;
  return <OrganizationEntered id={id} />;
}

/** GET /api/v1/admin/organizations, searched by name and status. */
function Organizations() {
  const [typed, setTyped] = useState<Search>({ name: "", status: "" });
  const [search, setSearch] = useState<Search>(typed);
  const [loaded, reload] = useGet<OrganizationInList[]>(`/api/v1/admin/organizations?${query(search)}`);

  function submit(event: FormEvent): void {
    event.preventDefault();
    setSearch(typed);
  }

  return (
    <>
      <div className="heading-row">
        <h1>Organizations</h1>
        <Link to="organizations/new" className="button-link">
          New organization
        </Link>
      </div>
      <form className="search" role="search" onSubmit={submit}>
        <label htmlFor="search-name">Name</label>
        <input id="search-name" type="search" value={typed.name} onChange={(event) => setTyped({ ...typed, name: event.target.value })} />
        <label htmlFor="search-status">Status</label>
        <select id="search-status" value={typed.status} onChange={(event) => setTyped({ ...typed, status: event.target.value })}>
          <option value="">Any</option>
          {STATUSES.map((status) => (
            <option key={status} value={status}>
              {label(status)}
            </option>
          ))}
        </select>
        <button type="submit">Search</button>
      </form>
      <Pending loaded={loaded} onRetry={reload}>Loading organizations…</Pending>
      {loaded.state === "shown" &&
        (loaded.data.length === 0 ? (
          <p className="empty">No organization matches this search.</p>
        ) : (
          <>
            <div className="table-scroll">
              <table className="organizations">
                <thead>
                  <tr>
                    <th scope="col">Name</th>
                    <th scope="col">Type</th>
                    <th scope="col">Status</th>
                    <th scope="col">Onboarding</th>
                  </tr>
                </thead>
                <tbody>
                  {loaded.data.map((organization) => (
                    <tr key={organization.id}>
                      <th scope="row">
                        <Link to={`organizations/${organization.id}`}>{organization.name}</Link>
                      </th>
                      <td>{label(organization.organization_type)}</td>
                      <td>
                        <span className={`badge ${organization.status}`}>{label(organization.status)}</span>
                      </td>
                      <td>
                        <OnboardingBar organization={organization} />
                      </td>
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

function OnboardingBar({ organization }: { organization: OrganizationInList }) {
  const percent = organization.onboarding_percent_complete;
  return (
    <div className="onboarding-cell">
      <progress max={100} value={percent} aria-label={`${organization.name} onboarding`}>
        {percent}%
      </progress>
      <span className="onboarding-text">
        {percent}% · {label(organization.onboarding_status)}
      </span>
    </div>
  );
}
