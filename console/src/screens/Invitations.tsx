import { type FormEvent, useState } from "react";

import { call } from "../api";
import { Pending } from "../Pending";
import { ProblemMessage } from "../ProblemMessage";
import type { ScreenProps } from "../screens";
import type { Me } from "../types";
import { useGet } from "../useGet";
import { label, moment } from "../words";
import { ActionProblem, FieldError, invalidIf, useAction } from "./ProviderAction";
import type { Facility, Invitation } from "./ProviderTypes";
import "./Providers.css";

const PAGE_SIZE = 100;
const INVITE = "/api/v1/admin/providers/invite";

/** The roles the signed-in user may offer (app/domain/invitations.py): whoever holds
 * invite-providers (organization and MSC admins) any; office managers, who only manage
 * providers, providers alone, to the facilities they manage. */
function offeredRoles(me: Me): string[] {
  return me.permissions.includes("invite-providers") ? ["provider", "office_manager", "organization_admin"] : ["provider"];
}

function offeredFacilities(me: Me, facilities: Facility[]): Facility[] {
  return me.permissions.includes("invite-providers")
    ? facilities
    : facilities.filter((facility) => facility.office_manager_id === me.id);
}

/** Invitations into the organization: GET /api/v1/admin/invitations, invite, resend, revoke. */
export function Invitations({ me, organizationId, organizationName }: ScreenProps) {
  const [loaded, reload] = useGet<Invitation[]>(
    `/api/v1/admin/invitations?organization_id=${encodeURIComponent(organizationId)}&page_size=${PAGE_SIZE}`,
  );
  const [notice, setNotice] = useState("");
  const action = useAction();
  const [revoking, setRevoking] = useState<string | null>(null);

  function done(text: string): void {
    setNotice(text);
    setRevoking(null);
    reload();
  }

  // Inviting the same email again replaces the open invitation (its old link stops
  // working) and queues a fresh email: that is what sending it again is.
  async function resend(invitation: Invitation): Promise<void> {
    const body = {
      email: invitation.email,
      name: invitation.name,
      role: invitation.role,
      organization_id: invitation.organization_id,
      facility_ids: invitation.facility_ids,
      primary_facility_id: invitation.primary_facility_id,
    };
    if (await action.run(() => call("POST", INVITE, { body }))) done(`A new invitation was sent to ${invitation.email}.`);
  }

  async function revoke(invitation: Invitation): Promise<void> {
    if (await action.run(() => call("POST", `/api/v1/admin/invitations/${invitation.id}/revoke`)))
      done(`The invitation to ${invitation.email} was revoked.`);
  }

  return (
    <>
      <h1>Invitations to {organizationName}</h1>
      <p role="status" className={notice ? "notice" : "visually-hidden"}>
        {notice}
      </p>
      <InviteForm me={me} organizationId={organizationId} invited={(email) => done(`Invitation sent to ${email}.`)} />
      <section aria-labelledby="sent">
        <h2 id="sent">Sent invitations</h2>
        <ActionProblem action={action} shownFields={[]} />
        <Pending loaded={loaded} onRetry={reload}>Loading invitations…</Pending>
        {loaded.state === "shown" &&
          (loaded.data.length === 0 ? (
            <p className="empty">No invitations yet. Invite someone with the form above.</p>
          ) : (
            <div className="table-scroll">
              <table className="records invitations">
                <thead>
                  <tr>
                    <th scope="col">Email</th>
                    <th scope="col">Name</th>
                    <th scope="col">Role</th>
                    <th scope="col">Status</th>
                    <th scope="col">Expires</th>
                    <th scope="col">Actions</th>
                  </tr>
                </thead>
                <tbody>
                  {loaded.data.map((invitation) => (
                    <tr key={invitation.id}>
                      <th scope="row">{invitation.email}</th>
                      <td>{invitation.name}</td>
                      <td>{label(invitation.role)}</td>
                      <td>
                        <span className={`badge ${invitation.status}`}>{label(invitation.status)}</span>
                      </td>
                      <td>{moment(invitation.expires_at)}</td>
                      <td>
                        {revoking === invitation.id ? (
                          <span className="actions confirm">
                            <span>Revoke this invitation? Its link stops working.</span>
                            <button type="button" autoFocus disabled={action.busy} onClick={() => void revoke(invitation)}>
                              Revoke invitation
                            </button>
                            <button type="button" className="secondary" onClick={() => setRevoking(null)}>
                              Keep it
                            </button>
                          </span>
                        ) : (
                          <span className="actions">
                            {(invitation.status === "pending" || invitation.status === "expired") && (
                              <button
                                type="button"
                                disabled={action.busy}
                                aria-label={`Resend the invitation to ${invitation.email}`}
                                onClick={() => void resend(invitation)}
                              >
                                Resend
                              </button>
                            )}
                            {invitation.status === "pending" && (
                              <button
                                type="button"
                                className="secondary"
                                aria-label={`Revoke the invitation to ${invitation.email}`}
                                onClick={() => {
                                  action.clear();
                                  setRevoking(invitation.id);
                                }}
                              >
                                Revoke…
                              </button>
                            )}
                          </span>
                        )}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          ))}
        {loaded.state === "shown" && loaded.data.length === PAGE_SIZE && (
          <p className="muted">Showing the newest {PAGE_SIZE}.</p>
        )}
      </section>
    </>
  );
}

interface InviteFields {
  email: string;
  name: string;
  role: string;
  facility_ids: string[];
  primary_facility_id: string;
}

const EMPTY: InviteFields = { email: "", name: "", role: "provider", facility_ids: [], primary_facility_id: "" };

function InviteForm({ me, organizationId, invited }: { me: Me; organizationId: string; invited: (email: string) => void }) {
  const [facilities, reload] = useGet<Facility[]>(
    `/api/v1/admin/facilities?organization_id=${encodeURIComponent(organizationId)}&active=true&page_size=${PAGE_SIZE}`,
  );
  const [form, setForm] = useState<InviteFields>(EMPTY);
  const action = useAction();
  const fields = action.fields;
  const roles = offeredRoles(me);
  const choices = facilities.state === "shown" ? offeredFacilities(me, facilities.data) : [];
  const chosen = choices.filter((facility) => form.facility_ids.includes(facility.id));

  function toggle(id: string, on: boolean): void {
    const facility_ids = on ? [...form.facility_ids, id] : form.facility_ids.filter((f) => f !== id);
    const primary_facility_id = facility_ids.includes(form.primary_facility_id) ? form.primary_facility_id : "";
    setForm({ ...form, facility_ids, primary_facility_id });
  }

  async function submit(event: FormEvent): Promise<void> {
    event.preventDefault();
    const provider = form.role === "provider";
    const body = {
      email: form.email,
      name: form.name,
      role: form.role,
      organization_id: organizationId,
      facility_ids: provider ? form.facility_ids : [],
      primary_facility_id: provider && form.primary_facility_id ? form.primary_facility_id : null,
    };
    if (await action.run(() => call("POST", INVITE, { body }))) {
      setForm(EMPTY);
      invited(body.email);
    }
  }

  return (
    <form className="panel-form invite" onSubmit={(event) => void submit(event)} aria-labelledby="invite" noValidate>
      <h2 id="invite">Invite someone</h2>
      <div className="field">
        <label htmlFor="invite-email">Email</label>
        <input
          id="invite-email"
          type="email"
          autoComplete="off"
          value={form.email}
          onChange={(event) => setForm({ ...form, email: event.target.value })}
          {...invalidIf(fields.email, "invite-email-error")}
        />
        <FieldError id="invite-email-error" message={fields.email} />
      </div>
      <div className="field">
        <label htmlFor="invite-name">Name</label>
        <input
          id="invite-name"
          type="text"
          autoComplete="off"
          value={form.name}
          onChange={(event) => setForm({ ...form, name: event.target.value })}
          {...invalidIf(fields.name, "invite-name-error")}
        />
        <FieldError id="invite-name-error" message={fields.name} />
      </div>
      <div className="field">
        <label htmlFor="invite-role">Role</label>
        <select
          id="invite-role"
          value={form.role}
          onChange={(event) => setForm({ ...form, role: event.target.value })}
          {...invalidIf(fields.role, "invite-role-error")}
        >
          {roles.map((role) => (
            <option key={role} value={role}>
              {label(role)}
            </option>
          ))}
        </select>
        <FieldError id="invite-role-error" message={fields.role} />
      </div>
      {form.role === "provider" && (
        <>
          <fieldset
            className="field facilities"
            {...invalidIf(fields.facility_ids, "invite-facilities-error")}
          >
            <legend>Facilities{me.permissions.includes("invite-providers") ? " (optional)" : ""}</legend>
            {facilities.state === "loading" && <p className="muted">Loading facilities…</p>}
            {facilities.state === "failed" && <ProblemMessage error={facilities.error} onRetry={reload} />}
            {facilities.state === "shown" && choices.length === 0 && <p className="muted">No facility to offer.</p>}
            {choices.map((facility) => (
              <div key={facility.id} className="check">
                <input
                  id={`invite-facility-${facility.id}`}
                  type="checkbox"
                  checked={form.facility_ids.includes(facility.id)}
                  onChange={(event) => toggle(facility.id, event.target.checked)}
                />
                <label htmlFor={`invite-facility-${facility.id}`}>{facility.name}</label>
              </div>
            ))}
            <FieldError id="invite-facilities-error" message={fields.facility_ids} />
          </fieldset>
          {chosen.length > 0 && (
            <div className="field">
              <label htmlFor="invite-primary">Primary facility</label>
              <select
                id="invite-primary"
                value={form.primary_facility_id}
                onChange={(event) => setForm({ ...form, primary_facility_id: event.target.value })}
                {...invalidIf(fields.primary_facility_id, "invite-primary-error")}
              >
                <option value="">None</option>
                {chosen.map((facility) => (
                  <option key={facility.id} value={facility.id}>
                    {facility.name}
                  </option>
                ))}
              </select>
              <FieldError id="invite-primary-error" message={fields.primary_facility_id} />
            </div>
          )}
        </>
      )}
      <ActionProblem action={action} shownFields={["email", "name", "role", "facility_ids", "primary_facility_id"]} />
      <button type="submit" disabled={action.busy}>
        Send invitation
      </button>
    </form>
  );
}
