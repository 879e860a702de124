import { useState } from "react";

import { call } from "../api";
import { Dashboard } from "../Dashboard";
import { Pending } from "../Pending";
import { ProblemMessage } from "../ProblemMessage";
import { Link } from "../router";
import { useGet } from "../useGet";
import { label, moment } from "../words";

/** One organization as GET /api/v1/admin/organizations/<id> gives it. */
export interface OrganizationDetails {
  id: string;
  name: string;
  organization_type: string;
  tax_id: string | null;
  primary_contact_name: string | null;
  primary_contact_email: string | null;
  primary_contact_phone: string | null;
  status: string;
  onboarding_status: string;
  require_admin_mfa: boolean;
  created_at: string;
  activated_at: string | null;
}

interface StatusChange {
  to: string;
  action: string;
  /** What the change means for the organization's users. */
  meaning: string;
}

// The changes the API allows from each status (app/domain/organizations.py,
// STATUS_TRANSITIONS), and what each does to the organization (app/tenancy/read_only.py).
const CHANGES: Record<string, StatusChange[]> = {
  pending: [{ to: "active", action: "Activate", meaning: "Its users can work in it as an active organization." }],
  active: [
    {
      to: "suspended",
      action: "Suspend",
      meaning:
        "Its users can still sign in and read its data, but every change they make is refused until it is reactivated.",
    },
    {
      to: "inactive",
      action: "Deactivate",
      meaning: "Its data stays readable and every change is refused, for good: an inactive organization cannot be made active again.",
    },
  ],
  suspended: [{ to: "active", action: "Reactivate", meaning: "Its users can make changes again." }],
  inactive: [],
};

/** MSC admins: one organization entered, its details, its status and its dashboard. */
export function OrganizationEntered({ id }: { id: string }) {
  const path = `/api/v1/admin/organizations/${encodeURIComponent(id)}`;
  const [loaded, reload] = useGet<OrganizationDetails>(path);
  const [changed, setChanged] = useState<OrganizationDetails | null>(null);
  const shown = changed ?? (loaded.state === "shown" ? loaded.data : null);

  return (
    <>
      <p className="back">
        <Link to="organizations">← All organizations</Link>
      </p>
      <Pending loaded={loaded} onRetry={reload}>Loading the organization…</Pending>
      {shown !== null && (
        <>
          <p className="entered-status">
            Status: <span className={`badge ${shown.status}`}>{label(shown.status)}</span>{" "}
            <a href="#status">Change the status</a>
          </p>
          <Dashboard organizationId={shown.id} organizationName={shown.name} />
          <Details organization={shown} />
          <Status organization={shown} path={path} onChanged={setChanged} />
        </>
      )}
    </>
  );
}

function Details({ organization }: { organization: OrganizationDetails }) {
  const rows: [string, string][] = [
    ["Type", label(organization.organization_type)],
    ["Tax id", organization.tax_id ?? "—"],
    ["Primary contact", organization.primary_contact_name ?? "—"],
    ["Contact email", organization.primary_contact_email ?? "—"],
    ["Contact phone", organization.primary_contact_phone ?? "—"],
    ["Onboarding", label(organization.onboarding_status)],
    ["Second factor for its admins", organization.require_admin_mfa ? "Required" : "Not required"],
    ["Registered", moment(organization.created_at)],
    ["Activated", organization.activated_at === null ? "Not yet" : moment(organization.activated_at)],
  ];
  return (
    <section aria-labelledby="details">
      <h2 id="details">Details</h2>
      <dl className="details">
        {rows.map(([name, value]) => (
          <div key={name}>
            <dt>{name}</dt>
            <dd>{value}</dd>
          </div>
        ))}
      </dl>
    </section>
  );
}

/** PUT /api/v1/admin/organizations/<id> with its new status, once confirmed. */
function Status({
  organization,
  path,
  onChanged,
}: {
  organization: OrganizationDetails;
  path: string;
  onChanged: (organization: OrganizationDetails) => void;
}) {
  const [asked, setAsked] = useState<StatusChange | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState<string | null>(null);
  const changes = CHANGES[organization.status] ?? [];

  async function confirm(change: StatusChange): Promise<void> {
    setBusy(true);
    setError(null);
    try {
      const updated = await call<OrganizationDetails>("PUT", path, { body: { status: change.to } });
      setAsked(null);
      setDone(`${organization.name} is now ${label(updated.status).toLowerCase()}.`);
      onChanged(updated);
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  }

  return (
    <section aria-labelledby="status" className="status-section">
      <h2 id="status">Status</h2>
      <p>
        {organization.name} is <strong>{label(organization.status).toLowerCase()}</strong>.
      </p>
      {done !== null && (
        <p className="notice" role="status">
          {done}
        </p>
      )}
      {error !== null && <ProblemMessage error={error} />}
      {asked === null ? (
        changes.length === 0 ? (
          <p className="muted">An inactive organization keeps its status.</p>
        ) : (
          <div className="actions">
            {changes.map((change) => (
              <button
                key={change.to}
                type="button"
                className={change.to === "active" ? undefined : "danger"}
                onClick={() => {
                  setError(null);
                  setDone(null);
                  setAsked(change);
                }}
              >
                {change.action}
              </button>
            ))}
          </div>
        )
      ) : (
        <div className="confirm" role="group" aria-labelledby="confirm-question">
          <p id="confirm-question">
            <strong>
              {asked.action} {organization.name}?
            </strong>{" "}
            {asked.meaning}
          </p>
          <div className="actions">
            <button
              type="button"
              className={asked.to === "active" ? undefined : "danger"}
              autoFocus
              disabled={busy}
              onClick={() => void confirm(asked)}
            >
              {busy ? "Changing…" : `Yes, ${asked.action.toLowerCase()}`}
            </button>
            <button type="button" className="secondary" disabled={busy} onClick={() => setAsked(null)}>
              Cancel
            </button>
          </div>
        </div>
      )}
    </section>
  );
}
