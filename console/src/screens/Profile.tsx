import { type FormEvent, useState } from "react";

import { call } from "../api";
import { Field } from "../Field";
import { Pending } from "../Pending";
import { ProblemMessage } from "../ProblemMessage";
import { Link } from "../router";
import type { ScreenProps } from "../screens";
import { useGet } from "../useGet";
import { label } from "../words";
import "./Profile.css";
import { useAction } from "./ProfileAction";
import { inDays, ProfileCredentials } from "./ProfileCredentials";
import { ProfileDocuments } from "./ProfileDocuments";
import { ProfileFacilities } from "./ProfileFacilities";
import type { Checklist, NpiVerification, Profile as ProfileData, ProviderCompliance } from "./ProfileTypes";

const PARTS = [
  { path: "", title: "Profile and compliance" },
  { path: "credentials", title: "Credentials" },
  { path: "facilities", title: "Facilities" },
  { path: "documents", title: "Documents" },
] as const;

/** A provider's own screen: their profile, compliance and checklist at profile/, their
 * credentials, facilities and documents at profile/credentials, /facilities, /documents. */
export function Profile({ me, rest, onMeChanged }: ScreenProps) {
  const part = rest[0] ?? "";
  const current = PARTS.find((p) => p.path === part);
  return (
    <>
      <h1>My profile</h1>
      <nav className="subnav" aria-label="My profile">
        <ul>
          {PARTS.map((p) => (
            <li key={p.path}>
              <SubLink to={p.path} current={p === current}>
                {p.title}
              </SubLink>
            </li>
          ))}
          {me.permissions.includes("place-orders") && (
            <li>
              <Link to="orders">My orders</Link>
            </li>
          )}
        </ul>
      </nav>
      {current === undefined && (
        <p className="problem" role="alert">
          There is no such part of your profile.
        </p>
      )}
      {current?.path === "" && <Overview onMeChanged={onMeChanged} />}
      {current?.path === "credentials" && <ProfileCredentials canUpdate={me.permissions.includes("update-credentials")} />}
      {current?.path === "facilities" && <ProfileFacilities canChoose={me.permissions.includes("select-facilities")} />}
      {current?.path === "documents" && <ProfileDocuments canUpdate={me.permissions.includes("update-credentials")} />}
    </>
  );
}

/** A part of the profile: a link, or where one is. */
function SubLink({ to, current, children }: { to: string; current: boolean; children: string }) {
  return current ? <span aria-current="page">{children}</span> : <Link to={to === "" ? "profile" : `profile/${to}`}>{children}</Link>;
}

function Overview({ onMeChanged }: { onMeChanged: () => Promise<void> }) {
  return (
    <>
      <Details onMeChanged={onMeChanged} />
      <Compliance />
      <ChecklistSection />
    </>
  );
}

/** The form's text for a value that may be absent. */
function typed(value: string | null): string {
  return value ?? "";
}

const EDITABLE = ["name", "phone", "npi", "date_of_birth"] as const;
type Editable = (typeof EDITABLE)[number];
type Draft = Record<Editable, string>;

function draftOf(profile: ProfileData): Draft {
  return { name: profile.name, phone: typed(profile.phone), npi: typed(profile.npi), date_of_birth: typed(profile.date_of_birth) };
}

/** Name, phone, NPI and date of birth: GET and PUT /api/v1/me (only what changed is sent). */
function Details({ onMeChanged }: { onMeChanged: () => Promise<void> }) {
  const [loaded, reload] = useGet<ProfileData>("/api/v1/me");
  return (
    <section className="section" aria-labelledby="details-heading">
      <h2 id="details-heading">Your details</h2>
      <Pending loaded={loaded} onRetry={reload}>Loading your profile…</Pending>
      {loaded.state === "shown" && <DetailsForm profile={loaded.data} onMeChanged={onMeChanged} />}
    </section>
  );
}

function DetailsForm({ profile, onMeChanged }: { profile: ProfileData; onMeChanged: () => Promise<void> }) {
  const [saved, setSaved] = useState<Draft>(draftOf(profile));
  const [draft, setDraft] = useState<Draft>(saved);
  const [done, setDone] = useState(false);
  const [npiCheck, setNpiCheck] = useState<NpiVerification | null>(null);
  const save = useAction();
  const check = useAction();

  function submit(event: FormEvent): void {
    event.preventDefault();
    setDone(false);
    const changes: Partial<Record<Editable, string | null>> = {};
    for (const name of EDITABLE) {
      if (draft[name] !== saved[name]) changes[name] = name === "name" ? draft.name.trim() : draft[name].trim() || null;
    }
    void save.run(async () => {
      const answer = await call<ProfileData>("PUT", "/api/v1/me", { body: changes });
      const now = draftOf(answer);
      setSaved(now);
      setDraft(now);
      setDone(true);
      // The header names the user as they are now.
      if (changes.name !== undefined) await onMeChanged();
    });
  }

  const field = (name: Editable, text: string, extra: { type?: string; autoComplete?: string; inputMode?: "numeric" | "tel" } = {}) => (
    <div>
      <Field
        name={`profile-${name}`}
        label={text}
        value={draft[name]}
        onChange={(value) => setDraft({ ...draft, [name]: value })}
        error={save.invalid[name]}
        required={name === "name"}
        {...extra}
      />
    </div>
  );

  return (
    <form onSubmit={submit} noValidate>
      <p className="muted">Signed in as {profile.email} (MSC changes the sign-in email).</p>
      <div className="fields columns2">
        {field("name", "Name", { autoComplete: "name" })}
        {field("phone", "Phone", { type: "tel", autoComplete: "tel" })}
        {field("npi", "NPI", { inputMode: "numeric" })}
        {field("date_of_birth", "Date of birth", { type: "date", autoComplete: "bday" })}
      </div>
      {save.error !== null && <ProblemMessage error={save.error} />}
      {done && (
        <p className="saved" role="status">
          Your details are saved.
        </p>
      )}
      <div className="actions">
        <button type="submit" disabled={save.busy}>
          {save.busy ? "Saving…" : "Save details"}
        </button>
        {saved.npi !== "" && (
          <button
            type="button"
            className="secondary"
            disabled={check.busy}
            onClick={() => void check.run(async () => setNpiCheck(await call<NpiVerification>("POST", "/api/v1/me/npi/verify")))}
          >
            {check.busy ? "Checking…" : "Check my NPI with the registry"}
          </button>
        )}
      </div>
      {check.error !== null && <ProblemMessage error={check.error} />}
      {npiCheck !== null && (
        <p role="status">
          NPI {npiCheck.npi}: {label(npiCheck.npi_verification).toLowerCase()}
          {npiCheck.reason && ` (${npiCheck.reason})`}.
        </p>
      )}
    </form>
  );
}

/** GET /api/v1/me/compliance: the score and what each item earns. */
function Compliance() {
  const [loaded, reload] = useGet<ProviderCompliance>("/api/v1/me/compliance");
  return (
    <section className="section" aria-labelledby="compliance-heading">
      <h2 id="compliance-heading">Your compliance</h2>
      <Pending loaded={loaded} onRetry={reload}>Loading your compliance…</Pending>
      {loaded.state === "shown" && (
        <>
          <p className="score" aria-label="Compliance score">
            {loaded.data.score}%
          </p>
          {loaded.data.excluded && (
            <p className="problem">You are excluded in an organization you work for: your score is 0 whatever the items earn.</p>
          )}
          <div className="table-scroll">
            <table className="rows compliance">
              <thead>
                <tr>
                  <th scope="col">Item</th>
                  <th scope="col">State</th>
                  <th scope="col">Weight</th>
                  <th scope="col">Earned</th>
                  <th scope="col">Expiry</th>
                  <th scope="col">States still needed</th>
                </tr>
              </thead>
              <tbody>
                {loaded.data.items.map((item) => (
                  <tr key={item.item}>
                    <th scope="row">{label(item.item)}</th>
                    <td>
                      <span className={`badge ${item.state}`}>{label(item.state)}</span>
                    </td>
                    <td>{item.weight}</td>
                    <td>{Math.round(item.share * 100)}%</td>
                    <td>
                      {item.expiry_date ?? "—"}
                      <span className="muted">{inDays(item.days_left)}</span>
                    </td>
                    <td>{item.missing_states.join(", ") || "—"}</td>
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

/** GET /api/v1/me/onboarding: the provider's checklist. */
function ChecklistSection() {
  const [loaded, reload] = useGet<Checklist>("/api/v1/me/onboarding");
  return (
    <section className="section" aria-labelledby="checklist-heading">
      <h2 id="checklist-heading">Your onboarding checklist</h2>
      <Pending loaded={loaded} onRetry={reload}>Loading your checklist…</Pending>
      {loaded.state === "shown" && (
        <>
          <p>{loaded.data.percent_complete}% complete</p>
          <progress max={100} value={loaded.data.percent_complete} aria-label="Checklist progress" />
          <ul className="checklist">
            {loaded.data.items.map((item) => (
              <li key={item.item}>
                <strong>{label(item.item)}</strong>{" "}
                <span className={`badge ${item.complete ? "complete" : "pending"}`}>{item.complete ? "Complete" : "To do"}</span>
                {item.detail && <span className="muted"> — {item.detail}</span>}
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
}
