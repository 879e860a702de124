import { type FormEvent, useState } from "react";

import { ApiError, download, fieldErrors } from "../api";
import { Pending } from "../Pending";
import { ProblemMessage } from "../ProblemMessage";
import type { ScreenProps } from "../screens";
import { useGet } from "../useGet";
import { label, moment } from "../words";
import { TableScroll } from "./Chart";
import { type Member, membersPath } from "./Members";

/** An event as GET /api/v1/admin/audit-events gives it (AuditEventSchema). */
export interface AuditEvent {
  id: string;
  organization_id: string | null;
  actor_user_id: string | null;
  cross_tenant: boolean;
  action: string;
  table_name: string;
  row_id: string;
  purpose: string | null;
  changes: Record<string, unknown>;
  request_id: string | null;
  occurred_at: string;
}

// The API's AuditAction and AccessPurpose (app/models/enums.py).
const ACTIONS = ["insert", "update", "delete", "access"];
const PURPOSES = [
  "document_download",
  "fhir_export",
  "analytics_export",
  "analytics_breakdown_export",
  "credential_read",
  "credential_list",
  "member_read",
  "audit_export",
];
// The API's own page size for the trail.
const PAGE_SIZE = 50;
const DAY_MS = 86_400_000;

interface Filters {
  from: string;
  to: string;
  action: string;
  purpose: string;
  table_name: string;
  row_id: string;
  actor_user_id: string;
}

const NO_FILTERS: Filters = { from: "", to: "", action: "", purpose: "", table_name: "", row_id: "", actor_user_id: "" };

function labelled(codes: string[]): [string, string][] {
  return codes.map((code) => [code, label(code)]);
}

/** A UTC day, as the trail's `from` and `to` take it. */
export function utcDay(at: Date): string {
  return at.toISOString().slice(0, 10);
}

/** The audit and access trail: who changed what, and who read which sensitive data. Actors
 * are named from the members list when the role may read it. */
export function AuditTrail(props: ScreenProps) {
  return props.me.permissions.includes("manage-members") ? <WithMembers {...props} /> : <Trail {...props} members={[]} />;
}

function WithMembers(props: ScreenProps) {
  const [loaded] = useGet<Member[]>(membersPath(props.organizationId));
  return <Trail {...props} members={loaded.state === "shown" ? loaded.data : []} />;
}

function Trail({ organizationId, organizationName, members }: ScreenProps & { members: Member[] }) {
  const [typed, setTyped] = useState<Filters>(NO_FILTERS);
  const [filters, setFilters] = useState<Filters>(NO_FILTERS);
  const [page, setPage] = useState(1);
  const query = new URLSearchParams({ organization_id: organizationId, page: String(page), page_size: String(PAGE_SIZE) });
  for (const [name, value] of Object.entries(filters)) if (value.trim()) query.set(name, value.trim());
  const [loaded, reload] = useGet<AuditEvent[]>(`/api/v1/admin/audit-events?${query}`);
  const refused = loaded.state === "failed" && loaded.error instanceof ApiError ? fieldErrors(loaded.error.problem) : {};
  const names = new Map(members.map((member) => [member.user_id, member.name]));

  function filter(event: FormEvent): void {
    event.preventDefault();
    setFilters(typed);
    setPage(1);
  }

  /** A filter: typed, or chosen among [value, what it reads as] pairs. */
  function field(name: keyof Filters, text: string, input: "text" | "date" | [string, string][]) {
    const id = `audit-${name}`;
    const error = refused[name];
    const common = {
      id,
      value: typed[name],
      "aria-invalid": error !== undefined,
      "aria-describedby": error !== undefined ? `${id}-error` : undefined,
    };
    return (
      <div className="field">
        <label htmlFor={id}>{text}</label>
        {typeof input === "string" ? (
          <input {...common} type={input} onChange={(event) => setTyped({ ...typed, [name]: event.target.value })} />
        ) : (
          <select {...common} onChange={(event) => setTyped({ ...typed, [name]: event.target.value })}>
            <option value="">Any</option>
            {input.map(([value, shown]) => (
              <option key={value} value={value}>
                {shown}
              </option>
            ))}
          </select>
        )}
        {error && (
          <p id={`${id}-error`} className="field-error">
            {error}
          </p>
        )}
      </div>
    );
  }

  return (
    <>
      <h1>Audit trail of {organizationName}</h1>
      <p className="muted">Changes to the organization's records, and reads of its sensitive data (downloads, exports, reads from outside it), newest first.</p>
      <form className="fields" role="search" aria-label="Filter the audit trail" onSubmit={filter}>
        {field("from", "From (UTC day)", "date")}
        {field("to", "To (UTC day)", "date")}
        {field("action", "Action", labelled(ACTIONS))}
        {field("purpose", "Access purpose", labelled(PURPOSES))}
        {field("table_name", "Table (e.g. memberships)", "text")}
        {field("row_id", "Row id", "text")}
        {members.length > 0
          ? field(
              "actor_user_id",
              "Actor",
              members.map((member) => [member.user_id, member.name]),
            )
          : field("actor_user_id", "Actor's user id", "text")}
        <button type="submit">Filter</button>
      </form>
      <Pending loaded={loaded} onRetry={reload}>Loading the audit trail…</Pending>
      {loaded.state === "shown" &&
        (loaded.data.length === 0 ? (
          <p className="empty">{page === 1 ? "No event matches these filters." : "No more events."}</p>
        ) : (
          <TableScroll label="Audit events">
            <table className="records audit">
              <caption className="visually-hidden">Audit events, page {page}</caption>
              <thead>
                <tr>
                  <th scope="col">When</th>
                  <th scope="col">Action</th>
                  <th scope="col">Table</th>
                  <th scope="col">Row</th>
                  <th scope="col">Actor</th>
                  <th scope="col">Purpose</th>
                  <th scope="col">Changed</th>
                </tr>
              </thead>
              <tbody>
                {loaded.data.map((event) => (
                  <tr key={event.id}>
                    <th scope="row">
                      <time dateTime={event.occurred_at}>{moment(event.occurred_at)}</time>
                    </th>
                    <td>{label(event.action)}</td>
                    <td>{event.table_name}</td>
                    <td>
                      <code>{event.row_id}</code>
                    </td>
                    <td>
                      {event.actor_user_id === null ? (
                        <span className="muted">The system</span>
                      ) : (
                        (names.get(event.actor_user_id) ?? <code>{event.actor_user_id}</code>)
                      )}
                      {event.cross_tenant && <span className="muted"> (MSC, across organizations)</span>}
                    </td>
                    <td>{event.purpose === null ? "" : label(event.purpose)}</td>
                    <td>{Object.keys(event.changes).join(", ")}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableScroll>
        ))}
      {(page > 1 || (loaded.state === "shown" && loaded.data.length === PAGE_SIZE)) && (
        <nav className="pages" aria-label="Pages of the audit trail">
          <button type="button" className="secondary" disabled={page === 1} onClick={() => setPage(page - 1)}>
            Newer events
          </button>
          <span>Page {page}</span>
          <button
            type="button"
            className="secondary"
            disabled={loaded.state !== "shown" || loaded.data.length < PAGE_SIZE}
            onClick={() => setPage(page + 1)}
          >
            Older events
          </button>
        </nav>
      )}
      <Export organizationId={organizationId} />
    </>
  );
}

/** The whole trail over a range of UTC days as a CSV file, from the API's export (itself
 * recorded in the trail). */
function Export({ organizationId }: { organizationId: string }) {
  const today = new Date();
  const [range, setRange] = useState({ from: utcDay(new Date(today.getTime() - 30 * DAY_MS)), to: utcDay(today) });
  const [error, setError] = useState<unknown>(null);
  const [state, setState] = useState<"idle" | "busy" | "done">("idle");
  const refused = error instanceof ApiError ? fieldErrors(error.problem) : {};

  async function exportCsv(event: FormEvent): Promise<void> {
    event.preventDefault();
    setError(null);
    setState("busy");
    const query = new URLSearchParams({ ...range, format: "csv", organization_id: organizationId });
    try {
      await download(`/api/v1/admin/audit-events/export?${query}`, `audit-events-${range.from}-${range.to}.csv`);
      setState("done");
    } catch (caught) {
      setError(caught);
      setState("idle");
    }
  }

  return (
    <section aria-labelledby="export">
      <h2 id="export">Export as CSV</h2>
      <p className="muted">Every event from the first day to the last (UTC, both included, at most 366 days), whatever the filters above.</p>
      <form className="fields" onSubmit={(event) => void exportCsv(event)}>
        {(["from", "to"] as const).map((name) => (
          <div className="field" key={name}>
            <label htmlFor={`export-${name}`}>{name === "from" ? "First day" : "Last day"}</label>
            <input
              id={`export-${name}`}
              type="date"
              required
              value={range[name]}
              onChange={(event) => setRange({ ...range, [name]: event.target.value })}
              aria-invalid={refused[name] !== undefined}
              aria-describedby={refused[name] !== undefined ? `export-${name}-error` : undefined}
            />
            {refused[name] !== undefined && (
              <p id={`export-${name}-error`} className="field-error">
                {refused[name]}
              </p>
            )}
          </div>
        ))}
        <button type="submit" disabled={state === "busy"}>
          Download CSV
        </button>
      </form>
      <p role="status" className="succeeded">
        {state === "done" ? "The export is downloaded." : ""}
      </p>
      {error !== null && <ProblemMessage error={error} />}
    </section>
  );
}
