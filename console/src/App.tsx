import { Fragment, useCallback, useEffect, useRef, useState } from "react";

import { ApiError, onSessionEnd, refreshAccess } from "./api";
import { loadMe, signOut, switchOrganization } from "./auth";
import { ProblemMessage } from "./ProblemMessage";
import { SignIn } from "./SignIn";
import { Link, navigate, useRoute } from "./router";
import { findScreen, mayOpen, SCREENS } from "./screens";
import type { Me } from "./types";

type Session =
  | { state: "resuming" }
  | { state: "signed-out"; notice?: string }
  | { state: "signed-in"; me: Me }
  | { state: "failed"; error: unknown };

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
          onChanged={enter}
          onSignedOut={() => setSession({ state: "signed-out", notice: "You have signed out." })}
        />
      );
  }
}

function SignedIn({ me, onChanged, onSignedOut }: { me: Me; onChanged: () => Promise<void>; onSignedOut: () => void }) {
  const [error, setError] = useState<unknown>(null);
  const { path, segments, query, renewal } = useRoute();
  const content = useRef<HTMLElement>(null);
  const arrived = useRef(path);
  // Moving to another screen moves the keyboard's focus to its content, as loading a
  // page would, so a screen reader starts reading the new screen and Tab goes on from it.
  useEffect(() => {
    if (arrived.current !== path) content.current?.focus();
    arrived.current = path;
  }, [path]);
  const organizations = organizationsOf(me);
  const active = organizations.find((o) => o.id === me.organization_id);
  const open = SCREENS.filter((screen) => mayOpen(screen, me, active !== undefined));
  const [first, ...rest] = segments;
  const screen = first === undefined ? open[0] : findScreen(first);

  async function choose(organizationId: string): Promise<void> {
    setError(null);
    try {
      await switchOrganization(organizationId);
      // The user as they are in the new organization first (its permissions), so no
      // screen asks for the last organization's rows with the new one's token; then
      // that organization's first screen.
      await onChanged();
      navigate("");
    } catch (caught) {
      setError(caught);
    }
  }

  async function leave(): Promise<void> {
    try {
      await signOut();
    } finally {
      navigate("");
      onSignedOut();
    }
  }

  return (
    <>
      <a className="skip" href="#content">
        Skip to content
      </a>
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
      {open.length > 0 && (
        <nav className="screens" aria-label="Screens">
          <ul>
            {open.map((s) => (
              <li key={s.path}>
                <Link to={s.path} current={s === screen}>
                  {s.title}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
      )}
      <main id="content" tabIndex={-1} ref={content}>
        {error !== null && <ProblemMessage error={error} />}
        {screen === undefined ? (
          first === undefined ? (
            <p className="empty">You are not a member of any organization yet.</p>
          ) : (
            <Refused text="There is no such screen in the console." />
          )
        ) : !open.includes(screen) ? (
          <Refused text={`Your role cannot open ${screen.title.toLowerCase()}.`} />
        ) : (
          // Another organization or address (its id, its query), or the same one asked for
          // again, starts afresh: nothing of the last one's state, the API's answers of now.
          <Fragment key={`${me.organization_id ?? ""}/${path}?${query.toString()}#${renewal}`}>
            {screen.render({
              me,
              organizationId: active?.id ?? "",
              organizationName: active?.name ?? "",
              rest,
              onMeChanged: onChanged,
            })}
          </Fragment>
        )}
      </main>
    </>
  );
}

function Refused({ text }: { text: string }) {
  return (
    <>
      <h1>Not available</h1>
      <p className="problem" role="alert">
        {text}
      </p>
      <p>
        <Link to="">Back to the console's start</Link>
      </p>
    </>
  );
}
