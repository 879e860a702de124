import { type FormEvent, useState } from "react";

import { call, download } from "../api";
import { ProblemMessage } from "../ProblemMessage";
import { Link } from "../router";
import type { ScreenProps } from "../screens";
import type { Me } from "../types";
import { type Loaded, useGet } from "../useGet";
import { label, moment, score } from "../words";
import { ActionProblem, FieldError, invalidIf, useAction } from "./ProviderAction";
import type {
  Assignment,
  Checklist,
  Credential,
  Facility,
  Provider,
  ProviderCompliance,
  ProviderDocument,
  Screening,
} from "./ProviderTypes";

// The API's permission groups (app/permissions.py), by the same names.
const SUPERVISE_PROVIDERS = ["manage-facilities", "manage-providers"];
const SEE_COMPLIANCE = ["view-analytics", "run-reports", "manage-providers", "view-represented-organizations"];
const SEE_SCREENINGS = ["review-exclusions", "view-represented-organizations"];

/** A compliance or checklist item's name, with the API's acronyms spelled as such. */
function itemLabel(item: string): string {
  return label(item).replace(/\b(npi|dea)\b/gi, (acronym) => acronym.toUpperCase());
}

function holds(me: Me, group: readonly string[]): boolean {
  return group.some((permission) => me.permissions.includes(permission));
}

/** What a change reloads: the sections it may have changed, and a word on what happened. */
type Changed = (notice: string) => void;

/** One provider: GET /api/v1/admin/providers/<id> and what the organization keeps of them. */
export function ProviderPage({ me, organizationId, providerId }: ScreenProps & { providerId: string }) {
  const base = `/api/v1/admin/providers/${encodeURIComponent(providerId)}`;
  const [provider, reload] = useGet<Provider>(base);
  // Every change remounts the sections (their key), so each reads the API afresh: a
  // verified credential moves the compliance score and the checklist too.
  const [changes, setChanges] = useState(0);
  const [notice, setNotice] = useState("");
  const changed: Changed = (text) => {
    setNotice(text);
    setChanges((n) => n + 1);
  };
  const supervises = holds(me, SUPERVISE_PROVIDERS);

  return (
    <>
      <p className="back">
        <Link to="providers">← All providers</Link>
      </p>
      {provider.state === "loading" && (
        <>
          <h1>Provider</h1>
          <p role="status" className="muted">
            Loading the provider…
          </p>
        </>
      )}
      {provider.state === "failed" && (
        <>
          <h1>Provider</h1>
          <ProblemMessage error={provider.error} onRetry={reload} />
        </>
      )}
      {provider.state === "shown" && (
        <>
          <h1>{provider.data.name}</h1>
          <p role="status" className={notice ? "notice" : "visually-hidden"}>
            {notice}
          </p>
          <div key={changes}>
            <Profile base={base} />
            <div className="columns">
              {holds(me, SEE_COMPLIANCE) && <ComplianceSection base={base} />}
              <ChecklistSection base={base} />
            </div>
            <CredentialsSection base={base} supervises={supervises} changed={changed} />
            <AssignmentsSection base={base} organizationId={organizationId} supervises={supervises} changed={changed} />
            <DocumentsSection base={base} />
            {holds(me, SEE_SCREENINGS) && <ScreeningsSection base={base} />}
          </div>
        </>
      )}
    </>
  );
}

function Waiting<T>({ loaded, reload, what }: { loaded: Loaded<T>; reload: () => void; what: string }) {
  if (loaded.state === "loading")
    return (
      <p role="status" className="muted">
        Loading {what}…
      </p>
    );
  if (loaded.state === "failed") return <ProblemMessage error={loaded.error} onRetry={reload} />;
  return null;
}

function Profile({ base }: { base: string }) {
  const [provider, reload] = useGet<Provider>(base);
  return (
    <section aria-labelledby="profile">
      <h2 id="profile">Profile</h2>
      <Waiting loaded={provider} reload={reload} what="the profile" />
      {provider.state === "shown" && (
        <dl className="profile">
          <div>
            <dt>Email</dt>
            <dd>{provider.data.email}</dd>
          </div>
          <div>
            <dt>NPI</dt>
            <dd>{provider.data.npi ?? "—"}</dd>
          </div>
          {provider.data.phone !== null && (
            <div>
              <dt>Phone</dt>
              <dd>{provider.data.phone}</dd>
            </div>
          )}
          {provider.data.date_of_birth !== null && (
            <div>
              <dt>Date of birth</dt>
              <dd>{provider.data.date_of_birth}</dd>
            </div>
          )}
          <div>
            <dt>Status</dt>
            <dd>{label(provider.data.status)}</dd>
          </div>
        </dl>
      )}
    </section>
  );
}

function ComplianceSection({ base }: { base: string }) {
  const [compliance, reload] = useGet<ProviderCompliance>(`${base}/compliance`);
  const reasons = (data: ProviderCompliance): [string, string[]][] =>
    (
      [
        ["Missing", data.missing],
        ["Expired", data.expired],
        ["Expiring soon", data.expiring],
        ["Not verified", data.unverified],
      ] as [string, string[]][]
    ).filter(([, items]) => items.length > 0);
  return (
    <section aria-labelledby="compliance">
      <h2 id="compliance">Compliance</h2>
      <Waiting loaded={compliance} reload={reload} what="the compliance score" />
      {compliance.state === "shown" && (
        <>
          <p className="score">
            Score <strong className="compliance-score">{score(compliance.data.score)}</strong>
          </p>
          {compliance.data.excluded && (
            <p className="problem">Excluded: a confirmed exclusion list match makes the score 0.</p>
          )}
          {reasons(compliance.data).length === 0 ? (
            <p className="muted">Nothing is missing, expired or waiting for verification.</p>
          ) : (
            <ul className="reasons">
              {reasons(compliance.data).map(([why, items]) => (
                <li key={why}>
                  {why}: {items.map(itemLabel).join(", ")}
                </li>
              ))}
            </ul>
          )}
          <div className="table-scroll">
            <table className="records">
              <thead>
                <tr>
                  <th scope="col">Item</th>
                  <th scope="col">Earned</th>
                  <th scope="col">State</th>
                  <th scope="col">Expires</th>
                </tr>
              </thead>
              <tbody>
                {compliance.data.items.map((item) => (
                  <tr key={item.item}>
                    <th scope="row">{itemLabel(item.item)}</th>
                    <td>
                      {Math.round(item.share * item.weight)} of {item.weight}
                    </td>
                    <td>
                      {label(item.state)}
                      {item.missing_states.length > 0 && ` (missing: ${item.missing_states.join(", ")})`}
                    </td>
                    <td>{item.expiry_date ?? "—"}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </section>
  );
}

function ChecklistSection({ base }: { base: string }) {
  const [checklist, reload] = useGet<Checklist>(`${base}/onboarding`);
  return (
    <section aria-labelledby="checklist">
      <h2 id="checklist">Onboarding checklist</h2>
      <Waiting loaded={checklist} reload={reload} what="the checklist" />
      {checklist.state === "shown" && (
        <>
          <p>
            <label htmlFor="checklist-progress">{checklist.data.percent_complete}% complete</label>
          </p>
          <progress id="checklist-progress" max={100} value={checklist.data.percent_complete}>
            {checklist.data.percent_complete}%
          </progress>
          <ol className="steps">
            {checklist.data.items.map((item) => (
              <li key={item.item} className={item.complete ? "done" : "to-do"}>
                <span className="step-name">{itemLabel(item.item)}</span>{" "}
                <span className="step-state">{item.complete ? "done" : "to do"}</span>
                {item.detail && <p className="muted">{item.detail}</p>}
              </li>
            ))}
          </ol>
        </>
      )}
    </section>
  );
}

function credentialName(credential: Credential): string {
  return [label(credential.credential_type), credential.state, credential.number].filter(Boolean).join(" ");
}

function CredentialsSection({ base, supervises, changed }: { base: string; supervises: boolean; changed: Changed }) {
  const [credentials, reload] = useGet<Credential[]>(`${base}/credentials?page_size=100`);
  const action = useAction();
  const [rejecting, setRejecting] = useState<string | null>(null);
  const [reason, setReason] = useState("");

  async function verify(credential: Credential): Promise<void> {
    const done = await action.run(() => call("POST", `${base}/credentials/${credential.id}/verify`));
    if (done) changed(`${credentialName(credential)} verified.`);
  }

  async function reject(event: FormEvent, credential: Credential): Promise<void> {
    event.preventDefault();
    const done = await action.run(() =>
      call("POST", `${base}/credentials/${credential.id}/reject`, { body: { reason } }),
    );
    if (done) changed(`${credentialName(credential)} rejected.`);
  }

  return (
    <section aria-labelledby="credentials">
      <h2 id="credentials">Credentials</h2>
      <Waiting loaded={credentials} reload={reload} what="the credentials" />
      {rejecting === null && <ActionProblem action={action} shownFields={[]} />}
      {credentials.state === "shown" &&
        (credentials.data.length === 0 ? (
          <p className="empty">No credentials yet: the provider adds them from their profile.</p>
        ) : (
          <div className="table-scroll">
            <table className="records credentials">
              <thead>
                <tr>
                  <th scope="col">Credential</th>
                  <th scope="col">Issuer</th>
                  <th scope="col">Expires</th>
                  <th scope="col">Status</th>
                  {supervises && <th scope="col">Actions</th>}
                </tr>
              </thead>
              <tbody>
                {credentials.data.map((credential) => (
                  <tr key={credential.id}>
                    <th scope="row">{credentialName(credential)}</th>
                    <td>{credential.issuer ?? "—"}</td>
                    <td>{credential.expiry_date ?? "—"}</td>
                    <td>
                      <span className={`badge ${credential.status}`}>{label(credential.status)}</span>
                      {credential.rejection_reason && <p className="muted reason">{credential.rejection_reason}</p>}
                    </td>
                    {supervises && (
                      <td>
                        {rejecting === credential.id ? (
                          <form className="inline-form" onSubmit={(event) => void reject(event, credential)}>
                            <label htmlFor="rejection-reason">Reason for rejecting</label>
                            <textarea
                              id="rejection-reason"
                              // The form replaced the button that opened it: the keyboard goes on here.
                              autoFocus
                              value={reason}
                              onChange={(event) => setReason(event.target.value)}
                              {...invalidIf(action.fields.reason, "rejection-reason-error")}
                            />
                            <FieldError id="rejection-reason-error" message={action.fields.reason} />
                            <ActionProblem action={action} shownFields={["reason"]} />
                            <span className="actions">
                              <button type="submit" disabled={action.busy}>
                                Reject credential
                              </button>
                              <button
                                type="button"
                                className="secondary"
                                onClick={() => {
                                  setRejecting(null);
                                  action.clear();
                                }}
                              >
                                Cancel
                              </button>
                            </span>
                          </form>
                        ) : (
                          <span className="actions">
                            {(credential.status === "unverified" || credential.status === "rejected") && (
                              <button
                                type="button"
                                disabled={action.busy}
                                aria-label={`Verify ${credentialName(credential)}`}
                                onClick={() => void verify(credential)}
                              >
                                Verify
                              </button>
                            )}
                            {(credential.status === "unverified" || credential.status === "verified") && (
                              <button
                                type="button"
                                className="secondary"
                                aria-label={`Reject ${credentialName(credential)}`}
                                onClick={() => {
                                  action.clear();
                                  setReason("");
                                  setRejecting(credential.id);
                                }}
                              >
                                Reject…
                              </button>
                            )}
                          </span>
                        )}
                      </td>
                    )}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ))}
    </section>
  );
}

interface AssignForm {
  facility_id: string;
  is_primary: boolean;
  start_date: string;
}

function AssignmentsSection({
  base,
  organizationId,
  supervises,
  changed,
}: {
  base: string;
  organizationId: string;
  supervises: boolean;
  changed: Changed;
}) {
  const [assignments, reload] = useGet<Assignment[]>(`${base}/facilities?page_size=100`);
  const action = useAction();
  const [ending, setEnding] = useState<string | null>(null);

  async function makePrimary(assignment: Assignment): Promise<void> {
    const done = await action.run(() => call("POST", `${base}/assignments/${assignment.id}/make-primary`));
    if (done) changed(`${assignment.facility_name} is now the primary facility.`);
  }

  async function end(assignment: Assignment): Promise<void> {
    const done = await action.run(() => call("POST", `${base}/assignments/${assignment.id}/end`, { body: {} }));
    if (done) changed(`The assignment at ${assignment.facility_name} has ended.`);
  }

  return (
    <section aria-labelledby="assignments">
      <h2 id="assignments">Facility assignments</h2>
      <Waiting loaded={assignments} reload={reload} what="the assignments" />
      <ActionProblem action={action} shownFields={[]} />
      {assignments.state === "shown" &&
        (assignments.data.length === 0 ? (
          <p className="empty">Not assigned to any facility of this organization.</p>
        ) : (
          <div className="table-scroll">
            <table className="records assignments">
              <thead>
                <tr>
                  <th scope="col">Facility</th>
                  <th scope="col">Primary</th>
                  <th scope="col">Status</th>
                  <th scope="col">Start</th>
                  <th scope="col">End</th>
                  {supervises && <th scope="col">Actions</th>}
                </tr>
              </thead>
              <tbody>
                {assignments.data.map((assignment) => (
                  <tr key={assignment.id}>
                    <th scope="row">{assignment.facility_name}</th>
                    <td>{assignment.is_primary ? "Primary" : "—"}</td>
                    <td>{label(assignment.status)}</td>
                    <td>{assignment.start_date}</td>
                    <td>{assignment.end_date ?? "—"}</td>
                    {supervises && (
                      <td>
                        {ending === assignment.id ? (
                          <span className="actions confirm">
                            <span>End this assignment today?</span>
                            <button type="button" autoFocus disabled={action.busy} onClick={() => void end(assignment)}>
                              End assignment
                            </button>
                            <button type="button" className="secondary" onClick={() => setEnding(null)}>
                              Keep it
                            </button>
                          </span>
                        ) : (
                          <span className="actions">
                            {assignment.status === "active" && !assignment.is_primary && (
                              <button
                                type="button"
                                disabled={action.busy}
                                aria-label={`Make ${assignment.facility_name} primary`}
                                onClick={() => void makePrimary(assignment)}
                              >
                                Make primary
                              </button>
                            )}
                            {assignment.status !== "inactive" && (
                              <button
                                type="button"
                                className="secondary"
                                aria-label={`End the assignment at ${assignment.facility_name}`}
                                onClick={() => {
                                  action.clear();
                                  setEnding(assignment.id);
                                }}
                              >
                                End…
                              </button>
                            )}
                          </span>
                        )}
                      </td>
                    )}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ))}
      {supervises && assignments.state === "shown" && (
        <Assign base={base} organizationId={organizationId} assignments={assignments.data} changed={changed} />
      )}
    </section>
  );
}

function Assign({
  base,
  organizationId,
  assignments,
  changed,
}: {
  base: string;
  organizationId: string;
  assignments: Assignment[];
  changed: Changed;
}) {
  const [facilities, reload] = useGet<Facility[]>(
    `/api/v1/admin/facilities?organization_id=${encodeURIComponent(organizationId)}&active=true&page_size=100`,
  );
  const [form, setForm] = useState<AssignForm>({ facility_id: "", is_primary: false, start_date: "" });
  const action = useAction();
  const current = new Set(assignments.filter((a) => a.status !== "inactive").map((a) => a.facility_id));

  async function submit(event: FormEvent): Promise<void> {
    event.preventDefault();
    const body: Record<string, unknown> = { facility_id: form.facility_id, is_primary: form.is_primary };
    if (form.start_date) body.start_date = form.start_date;
    const chosen = facilities.state === "shown" ? facilities.data.find((f) => f.id === form.facility_id) : undefined;
    const done = await action.run(() => call("POST", `${base}/assign-facility`, { body }));
    if (done) changed(`Assigned to ${chosen?.name ?? "the facility"}.`);
  }

  const fields = action.fields;
  return (
    <form className="panel-form" onSubmit={(event) => void submit(event)} aria-labelledby="assign">
      <h3 id="assign">Assign to a facility</h3>
      <Waiting loaded={facilities} reload={reload} what="the facilities" />
      {facilities.state === "shown" && (
        <>
          <div className="field">
            <label htmlFor="assign-facility">Facility</label>
            <select
              id="assign-facility"
              value={form.facility_id}
              onChange={(event) => setForm({ ...form, facility_id: event.target.value })}
              {...invalidIf(fields.facility_id, "assign-facility-error")}
            >
              <option value="">Choose a facility…</option>
              {facilities.data
                .filter((facility) => !current.has(facility.id))
                .map((facility) => (
                  <option key={facility.id} value={facility.id}>
                    {facility.name}
                  </option>
                ))}
            </select>
            <FieldError id="assign-facility-error" message={fields.facility_id} />
          </div>
          <div className="field">
            <label htmlFor="assign-start">Start date (today if left empty)</label>
            <input
              id="assign-start"
              type="date"
              value={form.start_date}
              onChange={(event) => setForm({ ...form, start_date: event.target.value })}
              {...invalidIf(fields.start_date, "assign-start-error")}
            />
            <FieldError id="assign-start-error" message={fields.start_date} />
          </div>
          <div className="field check">
            <input
              id="assign-primary"
              type="checkbox"
              checked={form.is_primary}
              onChange={(event) => setForm({ ...form, is_primary: event.target.checked })}
            />
            <label htmlFor="assign-primary">Make it the primary facility</label>
          </div>
          <ActionProblem action={action} shownFields={["facility_id", "start_date"]} />
          <button type="submit" disabled={action.busy}>
            Assign
          </button>
        </>
      )}
    </form>
  );
}

function size(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

function DocumentsSection({ base }: { base: string }) {
  const [documents, reload] = useGet<ProviderDocument[]>(`${base}/documents?page_size=100`);
  const action = useAction();
  return (
    <section aria-labelledby="documents">
      <h2 id="documents">Documents</h2>
      <Waiting loaded={documents} reload={reload} what="the documents" />
      <ActionProblem action={action} shownFields={[]} />
      {documents.state === "shown" &&
        (documents.data.length === 0 ? (
          <p className="empty">No documents uploaded.</p>
        ) : (
          <div className="table-scroll">
            <table className="records">
              <thead>
                <tr>
                  <th scope="col">File</th>
                  <th scope="col">Type</th>
                  <th scope="col">Size</th>
                  <th scope="col">Expires</th>
                  <th scope="col">Uploaded</th>
                </tr>
              </thead>
              <tbody>
                {documents.data.map((document) => (
                  <tr key={document.id}>
                    <th scope="row">
                      <button
                        type="button"
                        className="link"
                        aria-label={`Download ${document.filename}`}
                        onClick={() =>
                          void action.run(() => download(`/api/v1/documents/${document.id}/content`, document.filename))
                        }
                      >
                        {document.filename}
                      </button>
                    </th>
                    <td>{label(document.document_type)}</td>
                    <td>{size(document.size_bytes)}</td>
                    <td>{document.expiry_date ?? "—"}</td>
                    <td>{moment(document.created_at)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ))}
    </section>
  );
}

function ScreeningsSection({ base }: { base: string }) {
  const [screenings, reload] = useGet<Screening[]>(`${base}/screenings?page_size=20`);
  return (
    <section aria-labelledby="screenings">
      <h2 id="screenings">Exclusion screenings</h2>
      <Waiting loaded={screenings} reload={reload} what="the screenings" />
      {screenings.state === "shown" &&
        (screenings.data.length === 0 ? (
          <p className="empty">Not screened yet.</p>
        ) : (
          <div className="table-scroll">
            <table className="records">
              <thead>
                <tr>
                  <th scope="col">Screened</th>
                  <th scope="col">Reason</th>
                  <th scope="col">Outcome</th>
                  <th scope="col">Matches</th>
                </tr>
              </thead>
              <tbody>
                {screenings.data.map((screening) => (
                  <tr key={screening.id}>
                    <th scope="row">{moment(screening.screened_at)}</th>
                    <td>{label(screening.reason)}</td>
                    <td>{label(screening.outcome)}</td>
                    <td>{screening.matches.length}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ))}
    </section>
  );
}
