import { type FormEvent, useState } from "react";

import { call } from "../api";
import { Pending } from "../Pending";
import { ProblemMessage } from "../ProblemMessage";
import { useGet } from "../useGet";
import { label } from "../words";
import "./Profile.css";
import { useAction } from "./ProfileAction";
import type { Credential } from "./ProfileTypes";

// More than a provider keeps; the API's page size at most.
const PAGE_SIZE = 100;

type Kind = "medical_license" | "dea_registration" | "malpractice_insurance" | "board_certification";
type TextField =
  | "state"
  | "number"
  | "issuer"
  | "specialty"
  | "coverage_per_claim"
  | "coverage_aggregate"
  | "effective_date"
  | "expiry_date";

interface Shown {
  name: TextField;
  label: string;
  required: boolean;
  type?: "date";
}

const SCHEDULES = ["2", "2N", "3", "3N", "4", "5"];

const date = (name: "effective_date" | "expiry_date", text: string, required: boolean): Shown => ({ name, label: text, required, type: "date" });

/** The fields each kind of credential has, and which the API requires of it
 * (CredentialCreateSchema's variants); the DEA schedules are a DEA registration's too. */
const KINDS: Record<Kind, readonly Shown[]> = {
  medical_license: [
    { name: "state", label: "State (2 letters)", required: true },
    { name: "number", label: "License number", required: true },
    { name: "issuer", label: "Licensing board", required: false },
    date("effective_date", "Issue date", false),
    date("expiry_date", "Expiry date", true),
  ],
  dea_registration: [
    { name: "state", label: "State (2 letters)", required: true },
    { name: "number", label: "DEA registration number", required: true },
    date("effective_date", "Issue date", false),
    date("expiry_date", "Expiry date", true),
  ],
  malpractice_insurance: [
    { name: "issuer", label: "Insurance carrier", required: true },
    { name: "number", label: "Policy number", required: true },
    { name: "coverage_per_claim", label: "Coverage per claim (USD)", required: true },
    { name: "coverage_aggregate", label: "Aggregate coverage (USD)", required: true },
    date("effective_date", "Effective date", true),
    date("expiry_date", "Expiry date", true),
  ],
  board_certification: [
    { name: "issuer", label: "Certifying board", required: true },
    { name: "specialty", label: "Specialty", required: true },
    { name: "number", label: "Certificate number", required: false },
    date("effective_date", "Issue date", false),
    date("expiry_date", "Expiry date", false),
  ],
};

type Draft = Partial<Record<TextField, string>> & { dea_schedules: string[] };

function draftOf(credential: Credential): Draft {
  const draft: Draft = { dea_schedules: credential.dea_schedules ?? [] };
  for (const field of KINDS[credential.credential_type as Kind]) draft[field.name] = credential[field.name] ?? "";
  return draft;
}

/** How far an expiry date is, for a credential or a compliance item: " (in 12 days)". */
export function inDays(daysLeft: number | null): string {
  if (daysLeft === null) return "";
  return daysLeft < 0 ? ` (${-daysLeft} days ago)` : ` (in ${daysLeft} days)`;
}

/** The provider's credentials: GET/POST /api/v1/me/credentials, PUT/DELETE .../<id>. */
export function ProfileCredentials({ canUpdate }: { canUpdate: boolean }) {
  const [loaded, reload] = useGet<Credential[]>(`/api/v1/me/credentials?page_size=${PAGE_SIZE}`);
  const [editing, setEditing] = useState<Credential | null>(null);
  const [deleting, setDeleting] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const removal = useAction();

  function changed(text: string): void {
    setEditing(null);
    setNotice(text);
    reload();
  }

  return (
    <>
      <section className="section" aria-labelledby="credentials-heading">
        <h2 id="credentials-heading">Your credentials</h2>
        {notice !== null && (
          <p className="saved" role="status">
            {notice}
          </p>
        )}
        {removal.error !== null && <ProblemMessage error={removal.error} />}
        <Pending loaded={loaded} onRetry={reload}>Loading your credentials…</Pending>
        {loaded.state === "shown" &&
          (loaded.data.length === 0 ? (
            <p className="empty">You have no credential on file yet.</p>
          ) : (
            <div className="table-scroll">
              <table className="rows credentials">
                <thead>
                  <tr>
                    <th scope="col">Credential</th>
                    <th scope="col">Number</th>
                    <th scope="col">State</th>
                    <th scope="col">Issued by</th>
                    <th scope="col">Expiry</th>
                    <th scope="col">Status</th>
                    {canUpdate && <th scope="col">Actions</th>}
                  </tr>
                </thead>
                <tbody>
                  {loaded.data.map((credential) => (
                    <tr key={credential.id}>
                      <th scope="row">
                        {label(credential.credential_type)}
                        {credential.specialty && <span className="muted"> · {credential.specialty}</span>}
                      </th>
                      <td>{credential.number ?? "—"}</td>
                      <td>{credential.state ?? "—"}</td>
                      <td>{credential.issuer ?? "—"}</td>
                      <td>
                        {credential.expiry_date ?? "—"}
                        <span className="muted">{inDays(credential.days_left)}</span>
                      </td>
                      <td>
                        <span className={`badge ${credential.status}`}>{label(credential.status)}</span>
                        {credential.rejection_reason && <p className="muted">{credential.rejection_reason}</p>}
                      </td>
                      {canUpdate && (
                        <td>
                          {deleting === credential.id ? (
                            <div className="actions">
                              <button
                                type="button"
                                autoFocus
                                disabled={removal.busy}
                                onClick={() =>
                                  void removal.run(async () => {
                                    await call<void>("DELETE", `/api/v1/me/credentials/${credential.id}`);
                                    setDeleting(null);
                                    changed(`${label(credential.credential_type)} removed.`);
                                  })
                                }
                              >
                                Remove for good
                              </button>
                              <button type="button" className="secondary" onClick={() => setDeleting(null)}>
                                Keep
                              </button>
                            </div>
                          ) : (
                            <div className="actions">
                              <button type="button" className="secondary" onClick={() => setEditing(credential)}>
                                Edit<span className="visually-hidden"> {label(credential.credential_type)} {credential.number ?? ""}</span>
                              </button>
                              <button type="button" className="secondary" onClick={() => setDeleting(credential.id)}>
                                Remove<span className="visually-hidden"> {label(credential.credential_type)} {credential.number ?? ""}</span>
                              </button>
                            </div>
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
      {canUpdate && editing !== null && (
        <section className="section" aria-labelledby="edit-heading">
          <h2 id="edit-heading">
            Edit {label(editing.credential_type).toLowerCase()} {editing.number ?? ""}
          </h2>
          <p className="muted">A change makes it unverified until an organization verifies it again.</p>
          <CredentialForm
            key={editing.id}
            kind={editing.credential_type as Kind}
            start={draftOf(editing)}
            submit="Save changes"
            onCancel={() => setEditing(null)}
            onSend={async (kind, draft) => {
              const before = draftOf(editing);
              const body: Record<string, unknown> = {};
              for (const field of KINDS[kind]) {
                const value = draft[field.name] ?? "";
                if (value !== before[field.name]) body[field.name] = value.trim() || null;
              }
              if (kind === "dea_registration" && draft.dea_schedules.join() !== before.dea_schedules.join()) body.dea_schedules = draft.dea_schedules;
              await call<Credential>("PUT", `/api/v1/me/credentials/${editing.id}`, { body });
              changed(`${label(kind)} saved.`);
            }}
          />
        </section>
      )}
      {canUpdate && (
        <section className="section" aria-labelledby="add-heading">
          <h2 id="add-heading">Add a credential</h2>
          <CredentialForm
            start={{ dea_schedules: [] }}
            submit="Add credential"
            onSend={async (kind, draft) => {
              const body: Record<string, unknown> = { credential_type: kind };
              for (const field of KINDS[kind]) {
                const value = (draft[field.name] ?? "").trim();
                if (value !== "") body[field.name] = value;
              }
              if (kind === "dea_registration" && draft.dea_schedules.length > 0) body.dea_schedules = draft.dea_schedules;
              const added = await call<Credential>("POST", "/api/v1/me/credentials", { body });
              changed(`${label(added.credential_type)} added: ${label(added.status).toLowerCase()}.`);
            }}
          />
        </section>
      )}
    </>
  );
}

interface FormProps {
  /** A credential's kind, fixed once it exists; chosen in the form for a new one. */
  kind?: Kind;
  start: Draft;
  submit: string;
  onSend: (kind: Kind, draft: Draft) => Promise<void>;
  onCancel?: () => void;
}

/** One credential's fields, as its kind has them; what was typed stays on a refusal, the
 * fields it names marked beside them. A new one's form empties once it is added. */
function CredentialForm({ kind: fixed, start, submit, onSend, onCancel }: FormProps) {
  const [kind, setKind] = useState<Kind>(fixed ?? "medical_license");
  const [draft, setDraft] = useState<Draft>(start);
  const send = useAction();
  const prefix = fixed === undefined ? "new" : "edit";

  function sent(event: FormEvent): void {
    event.preventDefault();
    void send.run(async () => {
      await onSend(kind, draft);
      setDraft(start);
    });
  }

  const describedBy = (name: string) => (send.invalid[name] !== undefined ? `${prefix}-${name}-error` : undefined);
  const error = (name: string) =>
    send.invalid[name] !== undefined && (
      <p id={`${prefix}-${name}-error`} className="field-error">
        {send.invalid[name]}
      </p>
    );
  const scheduleError = Object.entries(send.invalid).find(([name]) => name.startsWith("dea_schedules"));

  return (
    <form onSubmit={sent} noValidate>
      <div className="fields columns2">
        {fixed === undefined && (
          <div>
            <label htmlFor="new-credential_type">Kind of credential</label>
            <select
              id="new-credential_type"
              value={kind}
              onChange={(event) => setKind(event.target.value as Kind)}
              aria-invalid={send.invalid.credential_type !== undefined}
              aria-describedby={describedBy("credential_type")}
            >
              {Object.keys(KINDS).map((k) => (
                <option key={k} value={k}>
                  {label(k)}
                </option>
              ))}
            </select>
            {error("credential_type")}
          </div>
        )}
        {KINDS[kind].map((field) => (
          <div key={field.name}>
            <label htmlFor={`${prefix}-${field.name}`}>
              {field.label}
              {field.required && <span className="muted"> (required)</span>}
            </label>
            <input
              id={`${prefix}-${field.name}`}
              type={field.type ?? "text"}
              inputMode={field.name.startsWith("coverage") ? "decimal" : undefined}
              value={draft[field.name] ?? ""}
              onChange={(event) => setDraft({ ...draft, [field.name]: event.target.value })}
              aria-invalid={send.invalid[field.name] !== undefined}
              aria-describedby={describedBy(field.name)}
            />
            {error(field.name)}
          </div>
        ))}
      </div>
      {kind === "dea_registration" && (
        <fieldset className="schedules" aria-describedby={scheduleError ? `${prefix}-dea_schedules-error` : undefined}>
          <legend>Schedules (required)</legend>
          {SCHEDULES.map((schedule) => (
            <label key={schedule}>
              <input
                type="checkbox"
                checked={draft.dea_schedules.includes(schedule)}
                onChange={(event) =>
                  setDraft({
                    ...draft,
                    dea_schedules: event.target.checked
                      ? SCHEDULES.filter((s) => s === schedule || draft.dea_schedules.includes(s))
                      : draft.dea_schedules.filter((s) => s !== schedule),
                  })
                }
              />
              {schedule}
            </label>
          ))}
          {scheduleError && (
            <p id={`${prefix}-dea_schedules-error`} className="field-error">
              {scheduleError[1]}
            </p>
          )}
        </fieldset>
      )}
      {send.error !== null && <ProblemMessage error={send.error} />}
      <div className="actions">
        <button type="submit" disabled={send.busy}>
          {send.busy ? "Saving…" : submit}
        </button>
        {onCancel && (
          <button type="button" className="secondary" onClick={onCancel}>
            Cancel
          </button>
        )}
      </div>
    </form>
  );
}
