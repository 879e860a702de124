import { useCallback, useEffect, useState } from "react";

import { ApiError, onSessionEnd, refreshAccess } from "./api";
import { loadMe, signOut, switchOrganization } from "./auth";
import { Dashboard } from "./Dashboard";
import { Organizations } from "./Organizations";
import { ProblemMessage } from "./ProblemMessage";
import { SignIn } from "./SignIn";
import type { Me, Organization } from "./types";

type Session =
  | { state: "resuming" }
  | { state: "signed-out"; notice?: string }
  | { state: "signed-in"; me: Me }
  | { state: "failed"; error: unknown };

// The permissions that open the dashboard (the API's SEE_DASHBOARD, app/permissions.py).
const SEES_DASHBOARD = ["view-analytics", "run-reports", "view-represented-organizations"];

interface Choice {
  id: string;
  name: string;
}

/** Every organization the user may act for: their memberships, and those they represent. */
function organizationsOf(me: Me): Choice[] {
  const found = new Map<string, string>();
  for (const m of me.memberships) found.set(m.organization_id, m.organization_name);
  for (const r of me.represented_organizations) found.set(r.organization_id, r.organization_name);
  return [...found].map(([id, name]) => ({ id, name })).sort((a, b) => a.name.localeCompare(b.name));
}

export function App() {
  const [session, setSession] = useState<Session>({ state: "resuming" });

  const enter = useCallback(async () => {
    try {
      setSession({ state: "signed-in", me: await loadMe() });
    } catch (error) {
      // A login that is over has already brought the sign-in back (onSessionEnd).
      if (!(error instanceof ApiError) || error.problem.status !== 401) {
        setSession({ state: "failed", error });
      }
    }
  }, []);

  useEffect(() => {
    onSessionEnd(() => setSession({ state: "signed-out", notice: "Your session has ended: sign in again." }));
    // A reload keeps no access token: the refresh cookie resumes the login, if any.
    void refreshAccess().then((tokens) => (tokens === null ? setSession({ state: "signed-out" }) : enter()));
  }, [enter]);

  switch (session.state) {
    case "resuming":
      return (
        <main className="sign-in">
          <p role="status" className="muted">
            Loading…
          </p>
        </main>
      );
    case "signed-out":
      return <SignIn onSignedIn={() => void enter()} notice={session.notice} />;
    case "failed":
      return (
        <main className="sign-in">
          <h1>The console could not start</h1>
          <ProblemMessage error={session.error} onRetry={() => void enter()} />
        </main>
      );
    case "signed-in":
      return (
        <SignedIn
          me={session.me}
          onSwitched={() => void enter()}
          onSignedOut={() => setSession({ state: "signed-out", notice: "You have signed out." })}
        />
      );
  }
}

function SignedIn({ me, onSwitched, onSignedOut }: { me: Me; onSwitched: () => void; onSignedOut: () => void }) {
  const [error, setError] = useState<unknown>(null);
  const organizations = organizationsOf(me);
  const active = organizations.find((o) => o.id === me.organization_id);

  async function choose(organizationId: string): Promise<void> {
    setError(null);
    try {
      await switchOrganization(organizationId);
      onSwitched();
    } catch (caught) {
      setError(caught);
    }
  }

  async function leave(): Promise<void> {
    try {
      await signOut();
    } finally {
      onSignedOut();
    }
  }

  return (
    <>
      <header className="top">
        <span className="brand">MSC Console</span>
        {organizations.length > 1 && (
          <span className="switcher">
            <label htmlFor="organization">Organization</label>
            <select id="organization" value={me.organization_id ?? ""} onChange={(event) => void choose(event.target.value)}>
              {me.organization_id === null && <option value="">Choose…</option>}
              {organizations.map((o) => (
                <option key={o.id} value={o.id}>
                  {o.name}
                </option>
              ))}
            </select>
          </span>
        )}
        <span className="who">
          {me.name}
          {me.role && <span className="muted"> · {me.role.replaceAll("_", " ")}</span>}
        </span>
        <button type="button" className="secondary" onClick={() => void leave()}>
          Sign out
        </button>
      </header>
      <main>
        {error !== null && <ProblemMessage error={error} />}
        {active === undefined ? (
          me.is_msc_admin ? (
            <AcrossTenants />
          ) : (
            <p className="empty">You are not a member of any organization yet.</p>
          )
        ) : me.permissions.some((p) => SEES_DASHBOARD.includes(p)) ? (
          <Dashboard key={active.id} organizationId={active.id} organizationName={active.name} />
        ) : (
          <>
            <h1>{active.name}</h1>
            <p className="empty">Your role has no dashboard. The screens for your role are still to come in the console.</p>
          </>
        )}
      </main>
    </>
  );
}

/** An MSC admin's view: every organization, and the dashboard of the one entered. */
function AcrossTenants() {
  const [entered, setEntered] = useState<Organization | null>(null);
  if (entered === null) return <Organizations onEnter={setEntered} />;
  return (
    <>
      <button type="button" className="secondary back" onClick={() => setEntered(null)}>
        ← All organizations
      </button>
      <Dashboard key={entered.id} organizationId={entered.id} organizationName={entered.name} />
    </>
  );
}
