import "./Facilities.css";

import { type FormEvent, useState } from "react";

import { call } from "../api";
import { Pending } from "../Pending";
import { Link, navigate } from "../router";
import type { ScreenProps } from "../screens";
import { useGet } from "../useGet";
import { FacilityPage } from "./Facility";
import { Ledger } from "./Orders";
import { editableBy, FacilityForm, mayAdd, useManagers } from "./FacilityForm";
import {
  addressOf,
  FACILITY_TYPES,
  type Facility,
  facilityType,
  placeOfService,
  usePlacesOfService,
} from "./FacilityTypes";

// As many as the API gives in one page; a search narrows a longer list.
const PAGE_SIZE = 100;

/** The spec's Facility Manager: the facilities the user reaches (the API shows office
 * managers only those they manage), one facility's page, and adding one. */
export function Facilities(props: ScreenProps) {
  const [id] = props.rest;
  if (id === undefined) return <FacilityList {...props} />;
  if (id === "new") return <NewFacility {...props} />;
  return <FacilityPage id={id} {...props} />;
}

interface Search {
  name: string;
  facility_type: string;
  state: string;
  active: string;
  sort: string;
}

// The API's `sort` choices, each in words.
const SORTS: Readonly<Record<string, string>> = {
  name: "Name, A to Z",
  "-name": "Name, Z to A",
  state: "State",
  "-created_at": "Newest first",
  created_at: "Oldest first",
};

function query(organizationId: string, search: Search): string {
  const params = new URLSearchParams({ organization_id: organizationId, page_size: String(PAGE_SIZE) });
  if (search.name.trim()) params.set("name", search.name.trim());
  if (search.facility_type) params.set("facility_type", search.facility_type);
  if (search.state.trim()) params.set("state", search.state.trim());
  if (search.active) params.set("active", search.active);
  params.set("sort", search.sort);
  return params.toString();
}

function FacilityList({ me, organizationId, organizationName }: ScreenProps) {
  const [typed, setTyped] = useState<Search>({ name: "", facility_type: "", state: "", active: "", sort: "name" });
  const [search, setSearch] = useState<Search>(typed);
  const [loaded, reload] = useGet<Facility[]>(`/api/v1/admin/facilities?${query(organizationId, search)}`);
  const places = usePlacesOfService();
  const searched = Boolean(search.name.trim() || search.facility_type || search.state.trim() || search.active);

  function submit(event: FormEvent): void {
    event.preventDefault();
    setSearch(typed);
  }

  return (
    <>
      <div className="facility-heading">
        <h1>Facilities</h1>
        {mayAdd(me) && (
          <Link to="facilities/new" className="facility-button">
            Add a facility
          </Link>
        )}
      </div>
      <p className="muted">
        {me.role === "office_manager"
          ? `The facilities of ${organizationName} you manage.`
          : `The facilities of ${organizationName}.`}
      </p>
      <form className="search" role="search" aria-label="Search facilities" onSubmit={submit}>
        <label htmlFor="facility-search-name">Name</label>
        <input id="facility-search-name" type="search" value={typed.name} onChange={(event) => setTyped({ ...typed, name: event.target.value })} />
        <label htmlFor="facility-search-type">Type</label>
        <select id="facility-search-type" value={typed.facility_type} onChange={(event) => setTyped({ ...typed, facility_type: event.target.value })}>
          <option value="">Any</option>
          {Object.entries(FACILITY_TYPES).map(([type, name]) => (
            <option key={type} value={type}>
              {name}
            </option>
          ))}
        </select>
        <label htmlFor="facility-search-state">State</label>
        <input
          id="facility-search-state"
          className="facility-state"
          value={typed.state}
          maxLength={2}
          onChange={(event) => setTyped({ ...typed, state: event.target.value })}
        />
        <label htmlFor="facility-search-active">Active</label>
        <select id="facility-search-active" value={typed.active} onChange={(event) => setTyped({ ...typed, active: event.target.value })}>
          <option value="">Any</option>
          <option value="true">Active</option>
          <option value="false">Inactive</option>
        </select>
        <label htmlFor="facility-search-sort">Sort by</label>
        <select id="facility-search-sort" value={typed.sort} onChange={(event) => setTyped({ ...typed, sort: event.target.value })}>
          {Object.entries(SORTS).map(([sort, name]) => (
            <option key={sort} value={sort}>
              {name}
            </option>
          ))}
        </select>
        <button type="submit">Search</button>
      </form>
      <Pending loaded={loaded} onRetry={reload}>Loading facilities…</Pending>
      {loaded.state === "shown" &&
        (loaded.data.length === 0 ? (
          <p className="empty">
            {searched
              ? "No facility matches this search."
              : me.role === "office_manager"
                ? "You manage no facility yet: an organization admin names a facility's office manager."
                : "No facilities yet."}
          </p>
        ) : (
          <>
            <Ledger caption="Facilities">
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Type</th>
                  <th scope="col">Place of service</th>
                  <th scope="col">Address</th>
                  <th scope="col">Active</th>
                </tr>
              </thead>
              <tbody>
                {loaded.data.map((facility) => (
                  <tr key={facility.id}>
                    <th scope="row">
                      <Link to={`facilities/${facility.id}`}>{facility.name}</Link>
                    </th>
                    <td>{facilityType(facility.facility_type)}</td>
                    <td>{placeOfService(facility.place_of_service, places)}</td>
                    <td>{addressOf(facility)}</td>
                    <td>{facility.active ? "Active" : "Inactive"}</td>
                  </tr>
                ))}
              </tbody>
            </Ledger>
            {loaded.data.length === PAGE_SIZE && (
              <p className="muted">Showing the first {PAGE_SIZE}: narrow the search to find others.</p>
            )}
          </>
        ))}
    </>
  );
}

function NewFacility({ me, organizationId, organizationName }: ScreenProps) {
  const managers = useManagers(me, organizationId);
  if (!mayAdd(me)) {
    return (
      <>
        <h1>Not available</h1>
        <p className="problem" role="alert">
          Your role cannot add facilities.
        </p>
      </>
    );
  }

  async function save(body: Record<string, unknown>): Promise<void> {
    const facility = await call<Facility>("POST", `/api/v1/admin/organizations/${encodeURIComponent(organizationId)}/facilities`, {
      body,
    });
    navigate(`facilities/${facility.id}`);
  }

  return (
    <>
      <p className="back">
        <Link to="facilities">All facilities</Link>
      </p>
      <h1>Add a facility to {organizationName}</h1>
      <FacilityForm facility={null} editable={editableBy(me)} managers={managers} submitLabel="Add the facility" save={save} />
    </>
  );
}
