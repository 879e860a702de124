import { type FormEvent, useState } from "react";

import { ApiError, call, fieldErrors } from "../api";
import { Pending } from "../Pending";
import { ProblemMessage } from "../ProblemMessage";
import type { ScreenProps } from "../screens";
import { useGet } from "../useGet";
import { label, moment } from "../words";
import { TableScroll } from "./Chart";

/** A member as GET /api/v1/admin/organizations/{id}/members gives them (MemberSchema). */
export interface Member {
  id: string;
  organization_id: string;
  user_id: string;
  name: string;
  email: string;
  role: string;
  status: string;
  created_at: string;
  updated_at: string;
}

export const ROLES = ["organization_admin", "office_manager", "provider"];
const STATUSES = ["active", "deactivated", "account_deactivated"];
// As many as the API gives in one page; a filter narrows a longer list.
export const MEMBERS_PAGE = 100;

export function membersPath(organizationId: string, filters: Record<string, string> = {}): string {
  const query = new URLSearchParams({ page_size: String(MEMBERS_PAGE) });
  for (const [name, value] of Object.entries(filters)) if (value) query.set(name, value);
  return `/api/v1/admin/organizations/${encodeURIComponent(organizationId)}/members?${query}`;
}

/** The organization's members and their roles: change a role, deactivate, reactivate. The
 * API keeps the last active organization admin, and says so when a change would not. */
export function Members({ me, organizationId, organizationName, onMeChanged }: ScreenProps) {
  const [typed, setTyped] = useState({ role: "", status: "" });
  const [filters, setFilters] = useState(typed);
  const [loaded, reload] = useGet<Member[]>(membersPath(organizationId, filters));
  const [notice, setNotice] = useState("");

  function changed(text: string, member: Member): void {
    setNotice(text);
    reload();
    // Their own role or membership changed: what the console offers them changes too.
    if (member.user_id === me.id) void onMeChanged();
  }

  function filter(event: FormEvent): void {
    event.preventDefault();
    setFilters(typed);
  }

  return (
    <>
      <h1>Members of {organizationName}</h1>
      <form className="fields" role="search" aria-label="Filter members" onSubmit={filter}>
        <div className="field">
          <label htmlFor="filter-role">Role</label>
          <select id="filter-role" value={typed.role} onChange={(event) => setTyped({ ...typed, role: event.target.value })}>
            <option value="">Any</option>
            {ROLES.map((role) => (
              <option key={role} value={role}>
                {label(role)}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="filter-status">Status</label>
          <select id="filter-status" value={typed.status} onChange={(event) => setTyped({ ...typed, status: event.target.value })}>
            <option value="">Any</option>
            {STATUSES.map((status) => (
              <option key={status} value={status}>
                {label(status)}
              </option>
            ))}
          </select>
        </div>
        <button type="submit">Filter</button>
      </form>
      <p role="status" className="succeeded">
        {notice}
      </p>
      <Pending loaded={loaded} onRetry={reload}>Loading members…</Pending>
      {loaded.state === "shown" &&
        (loaded.data.length === 0 ? (
          <p className="empty">No member matches these filters.</p>
        ) : (
          <>
            <TableScroll label="Members">
              <table className="records">
                <thead>
                  <tr>
                    <th scope="col">Name</th>
                    <th scope="col">Email</th>
                    <th scope="col">Role</th>
                    <th scope="col">Status</th>
                    <th scope="col">Member since</th>
                    <th scope="col">Membership</th>
                  </tr>
                </thead>
                <tbody>
                  {loaded.data.map((member) => (
                    // A fresh row after each change: what was typed in it is done with.
                    <MemberRow key={`${member.id}/${member.updated_at}`} member={member} onChanged={changed} />
                  ))}
                </tbody>
              </table>
            </TableScroll>
            {loaded.data.length === MEMBERS_PAGE && (
              <p className="muted">Showing the first {MEMBERS_PAGE}: filter by role or status to find others.</p>
            )}
          </>
        ))}
    </>
  );
}

function MemberRow({ member, onChanged }: { member: Member; onChanged: (text: string, member: Member) => void }) {
  const [role, setRole] = useState(member.role);
  const [roleError, setRoleError] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const roleId = `role-${member.id}`;

  async function act(method: string, path: string, done: string, body?: unknown): Promise<void> {
    setBusy(true);
    setError(null);
    setRoleError(null);
    try {
      await call<Member>(method, path, { body });
      onChanged(done, member);
    } catch (caught) {
      const named = caught instanceof ApiError ? fieldErrors(caught.problem).role : undefined;
      if (named !== undefined) setRoleError(named);
      else setError(caught);
    } finally {
      setBusy(false);
    }
  }

  function changeRole(event: FormEvent): void {
    event.preventDefault();
    void act("PUT", `/api/v1/admin/members/${member.id}`, `${member.name} is now ${label(role).toLowerCase()}.`, { role });
  }

  async function setActive(active: boolean): Promise<void> {
    const verb = active ? "reactivate" : "deactivate";
    await act("POST", `/api/v1/admin/members/${member.id}/${verb}`, `${member.name} is ${verb}d.`);
    setConfirming(false);
  }

  return (
    <tr>
      <th scope="row">{member.name}</th>
      <td>{member.email}</td>
      <td>
        <form className="actions" onSubmit={changeRole}>
          <label htmlFor={roleId} className="visually-hidden">
            Role of {member.name}
          </label>
          <select
            id={roleId}
            value={role}
            onChange={(event) => setRole(event.target.value)}
            aria-invalid={roleError !== null}
            aria-describedby={roleError !== null ? `${roleId}-error` : undefined}
          >
            {ROLES.map((choice) => (
              <option key={choice} value={choice}>
                {label(choice)}
              </option>
            ))}
          </select>
          <button type="submit" className="secondary" disabled={busy || role === member.role}>
            Change role<span className="visually-hidden"> of {member.name}</span>
          </button>
          {roleError !== null && (
            <p id={`${roleId}-error`} className="field-error" role="alert">
              {roleError}
            </p>
          )}
        </form>
      </td>
      <td>{label(member.status)}</td>
      <td>{moment(member.created_at)}</td>
      <td>
        {member.status === "active" &&
          (confirming ? (
            <div className="confirm">
              <p>Deactivate {member.name}? They can no longer act in this organization; their role and history stay.</p>
              <div className="actions">
                <button type="button" className="danger" autoFocus disabled={busy} onClick={() => void setActive(false)}>
                  Yes, deactivate
                </button>
                <button type="button" className="secondary" onClick={() => setConfirming(false)}>
                  Cancel
                </button>
              </div>
            </div>
          ) : (
            <button type="button" className="secondary" onClick={() => setConfirming(true)}>
              Deactivate<span className="visually-hidden"> {member.name}</span>
            </button>
          ))}
        {member.status === "deactivated" && (
          <button type="button" disabled={busy} onClick={() => void setActive(true)}>
            Reactivate<span className="visually-hidden"> {member.name}</span>
          </button>
        )}
        {member.status === "account_deactivated" && <span className="muted">Account deactivated everywhere by MSC</span>}
        {error !== null && <ProblemMessage error={error} />}
      </td>
    </tr>
  );
}
