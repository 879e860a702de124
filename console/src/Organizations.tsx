import { type FormEvent, useState } from "react";

import { ProblemMessage } from "./ProblemMessage";
import type { Organization } from "./types";
import { useGet } from "./useGet";
import { label } from "./words";

// As many as the API gives in one page; a search narrows a longer list.
const PAGE_SIZE = 100;
const STATUSES = ["pending", "active", "suspended", "inactive"];

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

/** MSC admins' list of organizations across tenants: GET /api/v1/admin/organizations. */
export function Organizations({ onEnter }: { onEnter: (organization: Organization) => void }) {
  const [typed, setTyped] = useState<Search>({ name: "", status: "" });
  const [search, setSearch] = useState<Search>(typed);
  const [loaded, reload] = useGet<Organization[]>(`/api/v1/admin/organizations?${query(search)}`);

  function submit(event: FormEvent): void {
    event.preventDefault();
    setSearch(typed);
  }

  return (
    <>
      <h1>Organizations</h1>
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
      {loaded.state === "loading" && (
        <p role="status" className="muted">
          Loading organizations…
        </p>
      )}
      {loaded.state === "failed" && <ProblemMessage error={loaded.error} onRetry={reload} />}
      {loaded.state === "shown" &&
        (loaded.data.length === 0 ? (
          <p className="empty">No organization matches this search.</p>
        ) : (
          <>
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
                      <button type="button" className="link" onClick={() => onEnter(organization)}>
                        {organization.name}
                      </button>
                    </th>
                    <td>{label(organization.organization_type)}</td>
                    <td>{label(organization.status)}</td>
                    <td>{label(organization.onboarding_status)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            {loaded.data.length === PAGE_SIZE && (
              <p className="muted">Showing the first {PAGE_SIZE}: narrow the search to find others.</p>
            )}
          </>
        ))}
    </>
  );
}
